"""The seeded training order: files in groups (a permutation per epoch), block shuffles within a
group, and a position per record from which a rebuilt pipeline continues exactly (issue #15:
a resumed run used to replay the data)."""

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


def test_each_epoch_is_a_permutation_of_the_files_cut_into_groups():
  groups = [(int(g), list(m)) for g, m in
            resumable_order.file_groups(5, 2, 3, True, seed=1).as_numpy_iterator()]
  assert [g for g, _ in groups] == list(range(9))  # 3 groups per epoch: 2 + 2 + 1 files
  assert [len(m) for _, m in groups] == [2, 2, 1] * 3
  epochs = [sum((m for _, m in groups[i:i + 3]), []) for i in (0, 3, 6)]
  assert all(sorted(e) == list(range(5)) for e in epochs)
  assert len({tuple(e) for e in epochs}) > 1
  again = list(resumable_order.file_groups(5, 2, 3, True, seed=1).as_numpy_iterator())
  assert [list(m) for _, m in again] == [m for _, m in groups]
  other = list(resumable_order.file_groups(5, 2, 3, True, seed=2).as_numpy_iterator())
  assert [list(m) for _, m in other] != [m for _, m in groups]
  late = list(resumable_order.file_groups(5, 2, 3, True, seed=1, start_group=4).as_numpy_iterator())
  assert [(int(g), list(m)) for g, m in late] == groups[4:]
  plain = [list(m) for _, m in resumable_order.file_groups(5, 2, 0, False, 1).take(4)]
  assert plain == [[0, 1], [2, 3], [4], [0, 1]]


def test_block_shuffle_permutes_within_blocks():
  out = _values(resumable_order.block_shuffle(tf.data.Dataset.range(10), 4, seed=3), 20)
  assert [sorted(out[0:4]), sorted(out[4:8]), sorted(out[8:])] == [
      [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
  assert out != list(range(10))
  assert out == _values(resumable_order.block_shuffle(tf.data.Dataset.range(10), 4, seed=3), 20)
  assert out != _values(resumable_order.block_shuffle(tf.data.Dataset.range(10), 4, 3, group=1), 20)
  pairs = resumable_order.block_shuffle(
      tf.data.Dataset.range(10).map(lambda i: (i, 10 * i)), 4, seed=3)
  assert [(int(a), int(b)) for a, b in pairs] == [(v, 10 * v) for v in out]


def _write_shards(directory, num_shards=2, records_per_shard=300):
  """Shards of real-sized length (a block of tiny files re-opens them thousands of times)."""
  demo.write_dataset(str(directory / "few.tfrecord"), 6, seed=0)
  records = [r.numpy() for r in tf.data.TFRecordDataset(str(directory / "few.tfrecord"))]
  os.remove(directory / "few.tfrecord")
  for shard in range(num_shards):
    with tf.io.TFRecordWriter(str(directory / f"train-{shard}.tfrecord")) as writer:
      for i in range(records_per_shard):
        writer.write(records[(i + shard) % len(records)])


def test_a_pipeline_rebuilt_at_a_saved_position_continues_exactly(tmp_path):
  _write_shards(tmp_path, num_shards=3, records_per_shard=40)
  reader = text_format.Parse(f"""shuffle: true num_readers: 2 read_block_length: 2
      shuffle_buffer_size: 16 num_epochs: 0
      tf_record_input_reader {{ input_path: "{tmp_path}/train-*.tfrecord" }}""",
                             input_reader_pb2.InputReader())

  def make(start=0):
    return dataset_builder.build(
        reader, batch_size=3, seed=3, start=start,
        transform_input_data_fn=lambda d, s: ({"id": d[F.source_id], "seed": s}, {}))

  batches = [f for f, _ in make().take(44)]  # 132 records: past the first epoch (120)
  positions = np.concatenate([b[resumable_order.POSITION_KEY].numpy() for b in batches])
  assert np.all(np.diff(positions) > 0)  # one number orders the stream
  groups = positions >> resumable_order.INDEX_BITS
  assert sorted(set(groups.tolist())) == [0, 1, 2]  # per epoch: 2 files (80) + 1 file (40)
  seeds = np.concatenate([b["seed"].numpy() for b in batches])
  assert len({tuple(s) for s in seeds}) == len(seeds)  # every element its own seed
  for k in (5, 29, 41):  # inside a block, the second group, the second epoch
    start = int(batches[k][resumable_order.POSITION_KEY][0])
    resumed = [f for f, _ in make(start).take(44 - k)]
    for want, got in zip(batches[k:], resumed):
      for key in ("id", "seed", resumable_order.POSITION_KEY):
        np.testing.assert_array_equal(want[key].numpy(), got[key].numpy())
