"""Sharded writers: the original's names, rename on success, nothing final-named on failure."""

import contextlib
import os

import pytest
import tensorflow as tf

from object_detection.dataset_tools import tf_record_creation_util


def _records(path):
  return [r for r in tf.data.TFRecordDataset(path).as_numpy_iterator()]


def test_shards_get_the_original_names_and_round_robin_content(tmp_path):
  base = str(tmp_path / "out.record")
  with contextlib.ExitStack() as stack:
    writers = tf_record_creation_util.open_sharded_output_tfrecords(stack, base, 3)
    assert len(writers) == 3
    for i in range(7):
      writers[i % 3].write(f"r{i}".encode())
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"out.record-0000{i}-of-00003.tmp-{os.getpid()}" for i in range(3))
  assert sorted(os.listdir(tmp_path)) == [f"out.record-0000{i}-of-00003" for i in range(3)] + [
      "out.record-of-00003.manifest.json"]
  assert _records(base + "-00000-of-00003") == [b"r0", b"r3", b"r6"]
  assert _records(base + "-00002-of-00003") == [b"r2", b"r5"]


def test_failure_leaves_no_shard_and_keeps_existing_outputs(tmp_path):
  base = str(tmp_path / "out.record")
  with contextlib.ExitStack() as stack:
    writers = tf_record_creation_util.open_sharded_output_tfrecords(stack, base, 2)
    writers[0].write(b"old0")
    writers[1].write(b"old1")
  with pytest.raises(RuntimeError, match="boom"):
    with contextlib.ExitStack() as stack:
      writers = tf_record_creation_util.open_sharded_output_tfrecords(stack, base, 2)
      writers[0].write(b"new0")
      raise RuntimeError("boom")
  assert sorted(os.listdir(tmp_path)) == ["out.record-00000-of-00002", "out.record-00001-of-00002",
                                          "out.record-of-00002.manifest.json"]
  assert _records(base + "-00000-of-00002") == [b"old0"]


def test_num_shards_must_be_positive(tmp_path):
  with contextlib.ExitStack() as stack:
    with pytest.raises(ValueError, match="num_shards must be >= 1 \\(got 0\\)"):
      tf_record_creation_util.open_sharded_output_tfrecords(stack, str(tmp_path / "x"), 0)
