"""The seeded training order: a permutation of the files per epoch, block shuffles, and a tf.data
iterator whose checkpoint stays small (a few KB, not the shuffle buffer) and restores exactly."""

import glob
import os

import numpy as np
import tensorflow as tf
from google.protobuf import text_format

from object_detection import demo
from object_detection.builders import dataset_builder
from object_detection.core.fields import InputDataFields as F
from object_detection.data import resumable_order
from object_detection.protos import input_reader_pb2


def _values(dataset, n):
  return [e.numpy() for e in dataset.take(n)]


def test_each_epoch_is_a_permutation_of_the_files():
  files = [f"f{i}" for i in range(5)]
  order = _values(resumable_order.epoch_file_order(files, 3, True, seed=1), 20)
  assert len(order) == 15
  epochs = [order[i:i + 5] for i in (0, 5, 10)]
  assert all(sorted(e) == sorted(f.encode() for f in files) for e in epochs)
  assert len({tuple(e) for e in epochs}) > 1
  assert order == _values(resumable_order.epoch_file_order(files, 3, True, seed=1), 20)
  assert order != _values(resumable_order.epoch_file_order(files, 3, True, seed=2), 20)
  plain = _values(resumable_order.epoch_file_order(files, 0, False, seed=1), 7)
  assert plain == [f.encode() for f in files + files[:2]]


def test_block_shuffle_permutes_within_blocks():
  out = _values(resumable_order.block_shuffle(tf.data.Dataset.range(10), 4, seed=3), 20)
  assert [sorted(out[0:4]), sorted(out[4:8]), sorted(out[8:])] == [
      [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
  assert out != list(range(10))
  assert out == _values(resumable_order.block_shuffle(tf.data.Dataset.range(10), 4, seed=3), 20)


def _write_shards(directory, num_shards=2, records_per_shard=300):
  """Shards of real-sized length (a block of tiny files re-opens them thousands of times)."""
  demo.write_dataset(str(directory / "few.tfrecord"), 6, seed=0)
  records = [r.numpy() for r in tf.data.TFRecordDataset(str(directory / "few.tfrecord"))]
  os.remove(directory / "few.tfrecord")
  for shard in range(num_shards):
    with tf.io.TFRecordWriter(str(directory / f"train-{shard}.tfrecord")) as writer:
      for i in range(records_per_shard):
        writer.write(records[(i + shard) % len(records)])


def test_training_iterator_checkpoint_is_small_and_exact(tmp_path):
  _write_shards(tmp_path)
  reader = text_format.Parse(f"""shuffle: true num_readers: 2 read_block_length: 2
      tf_record_input_reader {{ input_path: "{tmp_path}/train-*.tfrecord" }}""",
                             input_reader_pb2.InputReader())
  assert reader.shuffle_buffer_size == 2048  # the default: blocks of 2048 records

  def make():
    return dataset_builder.build(reader, batch_size=2, seed=3,
                                 transform_input_data_fn=lambda d, s: (d[F.source_id], s))
  iterator = iter(make())
  for _ in range(5):
    next(iterator)
  path = tf.train.Checkpoint(data=iterator).write(str(tmp_path / "ckpt" / "data"))
  size = sum(os.path.getsize(f) for f in glob.glob(str(tmp_path / "ckpt" / "data*")))
  record_bytes = sum(os.path.getsize(f) for f in glob.glob(str(tmp_path / "train-*")))
  assert size < 64 * 1024 < record_bytes / 100  # the 2048 buffered records are not in it
  want = [next(iterator) for _ in range(8)]
  restored = iter(make())
  tf.train.Checkpoint(data=restored).read(path).assert_consumed()
  got = [next(restored) for _ in range(8)]
  for (ids_a, seeds_a), (ids_b, seeds_b) in zip(want, got):
    np.testing.assert_array_equal(ids_a.numpy(), ids_b.numpy())
    np.testing.assert_array_equal(seeds_a.numpy(), seeds_b.numpy())
  seeds = np.concatenate([s.numpy() for _, s in want])
  assert len({tuple(s) for s in seeds}) == len(seeds)  # every element its own seed
