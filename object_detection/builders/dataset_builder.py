"""Builds a tf.data pipeline of decoded (and optionally transformed, batched) examples from an
`InputReader` message (input_reader.proto).

    dataset = dataset_builder.build(input_reader_config, batch_size=8,
                                    transform_input_data_fn=fn,     # fn(tensor_dict, seed)
                                    input_context=input_context)

Order (as the original's dataset_builder, FEATURES.md §1.6): glob the input paths -> shard the
file list per input pipeline (tf.distribute.InputContext) -> shuffle file names -> repeat
(num_epochs, 0 = forever) -> interleave `num_readers` files (`read_block_length` records at a
time) -> shuffle records (`shuffle_buffer_size`) -> keep 1 of `sample_1_of_n_examples` -> decode
-> transform (with a per-example [2] stateless seed) -> batch (`drop_remainder`) -> prefetch
(AUTOTUNE).

With a seed (training), the order comes from data/resumable_order.py instead: a permutation of
the files per epoch, a sequential interleave and a block shuffle, so the iterator can be saved
with every checkpoint and a resumed run continues exactly.

Differences from the original, on purpose: file names are sharded *before* they are shuffled
(the original shuffled first with an unseeded shuffle, so workers could read overlapping files);
when there are fewer files than input pipelines, records are sharded instead of files; prefetch
is AUTOTUNE (`num_prefetch_batches` is not used) and maps use AUTOTUNE parallelism
(`num_parallel_batches` is not used).
"""

import logging

import tensorflow as tf

from object_detection.core.errors import ConfigError
from object_detection.data import decoder as decoder_lib
from object_detection.data import resumable_order
from object_detection.protos import input_reader_pb2

_LOG = logging.getLogger(__name__)


# InputReader fields whose data this package does not load: a config that sets them fails at
# build time instead of silently training without that data.
_UNSUPPORTED = ("load_multiclass_scores", "load_context_features", "load_context_image_ids",
                "load_dense_pose", "load_track_id", "load_keypoint_depth_features",
                "expand_labels_hierarchy")


def check_supported(config, field_path="input_reader"):
  """Raises ConfigError for InputReader settings this package cannot honour."""
  for name in _UNSUPPORTED:
    if getattr(config, name):
      raise ConfigError(f"{field_path}.{name}: not supported by this package (got true; "
                        "expected false)")
  if config.num_keypoints:
    raise ConfigError(f"{field_path}.num_keypoints: keypoints are not decoded by this package "
                      f"(got {config.num_keypoints}; expected 0)")
  if config.input_type == input_reader_pb2.TF_SEQUENCE_EXAMPLE:
    raise ConfigError(f"{field_path}.input_type: only TF_EXAMPLE records are supported "
                      "(got TF_SEQUENCE_EXAMPLE)")
  if len(config.sample_from_datasets_weights):
    raise ConfigError(f"{field_path}.sample_from_datasets_weights: weighted sampling of several "
                      "input paths is not supported (got "
                      f"{list(config.sample_from_datasets_weights)}; expected none)")


def build_decoder(input_reader_config, field_path="input_reader"):
  """TfExampleDecoder configured from an InputReader message."""
  check_supported(input_reader_config, field_path)
  label_map_path = input_reader_config.label_map_path or None
  return decoder_lib.TfExampleDecoder(
      load_instance_masks=input_reader_config.load_instance_masks,
      instance_mask_type=input_reader_config.mask_type,
      label_map_proto_file=label_map_path,
      use_display_name=input_reader_config.use_display_name,
      num_additional_channels=input_reader_config.num_additional_channels)


def _input_files(config, field_path):
  if config.WhichOneof("input_reader") != "tf_record_input_reader":
    raise ConfigError(f"{field_path}: only tf_record_input_reader is supported "
                      f"(got {config.WhichOneof('input_reader')})")
  patterns = list(config.tf_record_input_reader.input_path)
  if not patterns:
    raise ConfigError(f"{field_path}.tf_record_input_reader.input_path: no input path given")
  files = []
  for pattern in patterns:
    files.extend(sorted(tf.io.gfile.glob(pattern)))
  if not files:
    raise ConfigError(f"{field_path}.tf_record_input_reader.input_path: no file matches "
                      f"(got {patterns}; expected existing TFRecord files or globs)")
  return files


def read_dataset(config, input_context=None, seed=None, deterministic=None,
                 field_path="input_reader"):
  """Serialized records from the TFRecord files of an InputReader (see the module docstring).

  Args:
    config: InputReader message.
    input_context: optional tf.distribute.InputContext (per-worker sharding).
    seed: optional int seed for the shuffles.
    deterministic: force deterministic (True) or allow non-deterministic (False) element order;
      None = deterministic unless `config.shuffle`.
  Returns:
    tf.data.Dataset of [] string.
  """
  files = _input_files(config, field_path)
  num_pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline_id = input_context.input_pipeline_id if input_context else 0
  shard_records = False
  dataset = tf.data.Dataset.from_tensor_slices(files)
  if num_pipelines > 1:
    if len(files) >= num_pipelines:
      dataset = dataset.shard(num_pipelines, pipeline_id)
      files = files[pipeline_id::num_pipelines]
    else:
      _LOG.warning("%s: %d files for %d input pipelines; sharding records instead of files",
                   field_path, len(files), num_pipelines)
      shard_records = True
  num_readers = max(1, min(int(config.num_readers), len(files)))
  if seed is not None:
    return _resumable_records(config, files, num_pipelines, pipeline_id, shard_records,
                              num_readers, seed)
  if config.shuffle:
    dataset = dataset.shuffle(max(1, int(config.filenames_shuffle_buffer_size)), seed=seed,
                              reshuffle_each_iteration=True)
  dataset = dataset.repeat(int(config.num_epochs) or None)
  if deterministic is None:
    deterministic = not config.shuffle
  parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": deterministic}
  dataset = dataset.interleave(
      lambda f: tf.data.TFRecordDataset(f, buffer_size=8 * 1000 * 1000),
      cycle_length=num_readers, block_length=max(1, int(config.read_block_length)),
      **(parallel if num_readers > 1 else {}))
  if shard_records:
    dataset = dataset.shard(num_pipelines, pipeline_id)
  if config.shuffle:
    dataset = dataset.shuffle(max(1, int(config.shuffle_buffer_size)), seed=seed)
  return dataset


def _resumable_records(config, files, num_pipelines, pipeline_id, shard_records, num_readers,
                       seed):
  """read_dataset's seeded order, with a small checkpointable iterator (data/resumable_order)."""
  dataset = resumable_order.epoch_file_order(files, int(config.num_epochs), config.shuffle, seed)
  dataset = dataset.interleave(
      lambda f: tf.data.TFRecordDataset(f, buffer_size=8 * 1000 * 1000),
      cycle_length=num_readers, block_length=max(1, int(config.read_block_length)))
  if shard_records:
    dataset = dataset.shard(num_pipelines, pipeline_id)
  if config.shuffle:
    dataset = resumable_order.block_shuffle(dataset, config.shuffle_buffer_size, seed)
  return dataset


def build(input_reader_config, batch_size=None, transform_input_data_fn=None, input_context=None,
          seed=None, deterministic=None, field_path="input_reader"):
  """The full pipeline: read, sample, decode, transform, batch, prefetch.

  Args:
    input_reader_config: InputReader message.
    batch_size: per-replica batch size, or None (unbatched).
    transform_input_data_fn: optional `fn(tensor_dict, seed [2] int64) -> structure`, applied to
      each decoded example (augmentation, preprocessing, padding).
    input_context: optional tf.distribute.InputContext.
    seed: optional int; with it, the order and augmentation seeds are reproducible and the
      iterator state is small enough to checkpoint (data/resumable_order.py: the training path).
    deterministic: see `read_dataset`.
    field_path: where the InputReader sits in the pipeline config (error messages).
  Returns:
    tf.data.Dataset.
  """
  decoder = build_decoder(input_reader_config, field_path)
  if deterministic is None:
    deterministic = not input_reader_config.shuffle or seed is not None
  dataset = read_dataset(input_reader_config, input_context, seed, deterministic, field_path)
  n = int(input_reader_config.sample_1_of_n_examples)
  if n > 1:
    dataset = dataset.shard(n, 0)
  dataset = dataset.map(decoder.decode, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=deterministic)
  if transform_input_data_fn is not None:
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    if seed is not None:
      dataset = resumable_order.with_element_seeds(dataset, seed + 7919 * pipeline_id)
    else:
      seeds = tf.data.Dataset.random().batch(2, drop_remainder=True)
      dataset = tf.data.Dataset.zip((dataset, seeds))
    dataset = dataset.map(transform_input_data_fn, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=deterministic)
  if batch_size:
    dataset = dataset.batch(batch_size, drop_remainder=input_reader_config.drop_remainder,
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
  if seed is not None:
    options = resumable_order.options()
  else:
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
  return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
