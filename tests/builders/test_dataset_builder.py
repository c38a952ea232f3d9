"""dataset_builder: globs, per-worker file sharding, sampling, epochs, shuffling, decoding."""

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import dataset_builder
from object_detection.core.errors import ConfigError
from object_detection.core.fields import InputDataFields as F
from object_detection.data import synthetic
from object_detection.protos import input_reader_pb2


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
  """4 files x 3 records; source_id = 10 * file + record."""
  tmp = tmp_path_factory.mktemp("shards")
  image = np.zeros([4, 4, 3], np.uint8)
  for f in range(4):
    records = [synthetic.make_example(image, [[0, 0, 1, 1]], class_labels=[1],
                                      source_id=str(10 * f + r)).SerializeToString()
               for r in range(3)]
    synthetic.write_tfrecord(tmp / f"data-{f:05d}-of-00004.tfrecord", records)
  return tmp


def _reader(shards, extra=""):
  return text_format.Merge(
      f'shuffle: false num_epochs: 1 num_readers: 1 {extra} '
      f'tf_record_input_reader {{ input_path: "{shards}/data-?????-of-00004.tfrecord" }}',
      input_reader_pb2.InputReader())


def _ids(dataset):
  return [int(d[F.source_id].numpy()) for d in dataset]


def test_reads_all_files_in_order(shards):
  assert _ids(dataset_builder.build(_reader(shards))) == [0, 1, 2, 10, 11, 12, 20, 21, 22,
                                                           30, 31, 32]


def test_per_worker_file_sharding(shards):
  ids = []
  for worker in range(2):
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker)
    ids.append(_ids(dataset_builder.build(_reader(shards), input_context=context)))
  assert ids == [[0, 1, 2, 20, 21, 22], [10, 11, 12, 30, 31, 32]]


def test_record_sharding_when_fewer_files_than_workers(shards):
  reader = text_format.Parse(
      f'shuffle: false num_epochs: 1 tf_record_input_reader {{ '
      f'input_path: "{shards}/data-00000-of-00004.tfrecord" }}', input_reader_pb2.InputReader())
  context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1)
  assert _ids(dataset_builder.build(reader, input_context=context)) == [1]


def test_sample_1_of_n_and_epochs(shards):
  assert _ids(dataset_builder.build(_reader(shards, "sample_1_of_n_examples: 4"))) == [0, 11,
                                                                                       22]
  assert len(_ids(dataset_builder.build(_reader(shards, "num_epochs: 2")))) == 24
  forever = dataset_builder.build(_reader(shards, "num_epochs: 0"))
  assert len(_ids(forever.take(30))) == 30


def test_shuffle_with_seed_is_reproducible_and_complete(shards):
  reader = _reader(shards, "num_readers: 4")
  reader.shuffle = True
  first = _ids(dataset_builder.build(reader, seed=5))
  second = _ids(dataset_builder.build(reader, seed=5))
  assert first == second and sorted(first) == sorted(_ids(dataset_builder.build(_reader(shards))))
  assert first != sorted(first)


def test_batching_with_transform_gets_per_example_seeds(shards):
  def transform(d, seed):
    return {"id": d[F.source_id], "seed": seed}
  ds = dataset_builder.build(_reader(shards), batch_size=5, transform_input_data_fn=transform,
                             seed=1)
  batches = list(ds)
  assert len(batches) == 2 and batches[0]["seed"].shape == (5, 2)  # 12 records, remainder dropped
  assert len({tuple(s) for s in batches[0]["seed"].numpy()}) == 5


def test_missing_files_error(tmp_path):
  reader = text_format.Parse(
      f'tf_record_input_reader {{ input_path: "{tmp_path}/nothing-*.tfrecord" }}',
      input_reader_pb2.InputReader())
  with pytest.raises(ConfigError, match="no file matches"):
    dataset_builder.build(reader, field_path="train_input_reader")


@pytest.mark.parametrize("extra,match", [
    ("num_keypoints: 17", "num_keypoints"),
    ("load_dense_pose: true", "load_dense_pose"),
    ("input_type: TF_SEQUENCE_EXAMPLE", "TF_SEQUENCE_EXAMPLE"),
    ("num_additional_channels: 2", "num_additional_channels"),
])
def test_unsupported_reader_settings_fail_at_build_time(shards, extra, match):
  with pytest.raises(ConfigError, match=match):
    dataset_builder.build(_reader(shards, extra), field_path="train_input_reader")
