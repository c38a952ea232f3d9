"""save_pipeline_config writes atomically and round-trips exactly."""

import os

import pytest

from object_detection.config import load_pipeline_config, save_pipeline_config
from object_detection.config.loader import parse_pipeline_text


def test_save_then_load_is_equal(deepmac_text, tmp_path):
  pipeline = parse_pipeline_text(deepmac_text)
  path = save_pipeline_config(pipeline, tmp_path / "model_dir")
  assert path == str(tmp_path / "model_dir" / "pipeline.config")
  assert load_pipeline_config(path) == pipeline
  assert os.listdir(tmp_path / "model_dir") == ["pipeline.config"]  # no temp file left


def test_save_replaces_existing_file(deepmac_text, tmp_path):
  (tmp_path / "pipeline.config").write_text("garbage")
  pipeline = parse_pipeline_text(deepmac_text)
  pipeline.train_config.batch_size = 7
  save_pipeline_config(pipeline, tmp_path)
  assert "batch_size: 7" in (tmp_path / "pipeline.config").read_text()


def test_failed_write_leaves_old_file_and_no_temp(deepmac_text, tmp_path, monkeypatch):
  (tmp_path / "pipeline.config").write_text("old")
  pipeline = parse_pipeline_text(deepmac_text)

  def broken_replace(src, dst):
    raise OSError("disk full")

  monkeypatch.setattr(os, "replace", broken_replace)
  with pytest.raises(OSError, match="disk full"):
    save_pipeline_config(pipeline, tmp_path)
  assert (tmp_path / "pipeline.config").read_text() == "old"
  assert os.listdir(tmp_path) == ["pipeline.config"]


def test_gfile_paths_round_trip(deepmac_text, tmp_path):
  """Paths with a scheme (gs://, file://) go through tf.io.gfile, as in the original."""
  pipeline = parse_pipeline_text(deepmac_text)
  written = save_pipeline_config(pipeline, f"file://{tmp_path}/remote")
  assert written == f"file://{tmp_path}/remote/pipeline.config"
  assert load_pipeline_config(written) == pipeline
  assert os.listdir(tmp_path / "remote") == ["pipeline.config"]


def test_gfile_missing_file(tmp_path):
  from object_detection.core.errors import ConfigError  # pylint: disable=import-outside-toplevel
  with pytest.raises(ConfigError) as info:
    load_pipeline_config(f"file://{tmp_path}/nope.config")
  assert str(info.value).startswith(f"file://{tmp_path}/nope.config: cannot read config file (")
