"""A small valid DeepMAC pipeline (testdata/deepmac_tiny.config), shared by the config tests."""

import pathlib

import pytest

TINY_CONFIG = pathlib.Path(__file__).resolve().parent / "testdata" / "deepmac_tiny.config"


@pytest.fixture
def deepmac_text():
  return TINY_CONFIG.read_text()


@pytest.fixture
def write_config(tmp_path):
  """write_config(text, name="x.config") -> path of a config file in a temp dir."""
  def write(text, name="x.config"):
    path = tmp_path / name
    path.write_text(text)
    return path
  return write
