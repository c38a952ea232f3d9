"""Test-wide settings: quiet TF logs, tiny thread pools (2-core machines), shared paths."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"
REFERENCE_CONFIGS = SHARED_DIR / "reference_configs"
TEST_DATA = REPO_ROOT / "tests" / "testdata"


@pytest.fixture(scope="session")
def shared_dir():
  """../shared beside the repo (tests that need it skip with a reason when it is absent)."""
  if not SHARED_DIR.is_dir():
    pytest.skip("../shared is not beside the repository")
  return SHARED_DIR
