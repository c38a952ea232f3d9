"""Fixtures of the checkpoint-conversion tests (helpers: object_detection.conversion.testing)."""

import pytest

from object_detection.conversion.testing import FIXTURES


@pytest.fixture(scope="session")
def fixture_dirs(shared_dir):
  """{name: path} of the original's small checkpoints in ../shared/reference/checkpoints."""
  return {name: shared_dir / "reference" / "checkpoints" / name for name in FIXTURES}
