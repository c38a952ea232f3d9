"""Builds a tf.data pipeline of decoded (and optionally transformed, batched) examples from an
`InputReader` message (input_reader.proto).

    dataset = dataset_builder.build(input_reader_config, batch_size=8,
                                    transform_input_data_fn=fn,     # fn(tensor_dict, seed)
                                    input_context=input_context)

Order (as the original's dataset_builder, FEATURES.md §1.6): glob the input paths -> shard the
file list per input pipeline (tf.distribute.InputContext) -> check the files (data/record_files.py:
manifests, not-TFRecord files, no records at all) -> shuffle file names -> repeat (num_epochs,
0 = forever) -> interleave `num_readers` files (`read_block_length` records at a time; each
record keeps its file and index) -> shuffle records (`shuffle_buffer_size`) -> keep 1 of
`sample_1_of_n_examples` -> decode + transform (with a per-example [2] stateless seed), guarded:
a record that fails is logged with file and index, counted and dropped, or with
`strict_records` stops the run (data/record_guard.py) -> batch (`drop_remainder`) -> prefetch
(AUTOTUNE).

With a seed (training), the order comes from data/resumable_order.py instead: files in groups
(a permutation per epoch), records block-shuffled within a group, each with a position that
keys its augmentation seed and travels with the example, so a resumed run rebuilds the pipeline
at the position saved with the checkpoint and continues exactly.

Differences from the original, on purpose: file names are sharded *before* they are shuffled
(the original shuffled first with an unseeded shuffle, so workers could read overlapping files);
when there are fewer files than input pipelines, records are sharded instead of files; prefetch
is AUTOTUNE (`num_prefetch_batches` is not used) and maps use AUTOTUNE parallelism
(`num_parallel_batches` is not used); bad records and files are skipped and counted where the
original ends the run with a TensorFlow error naming neither (docs/RELIABILITY.md).
"""

import logging
import re

import tensorflow as tf

from object_detection.core.errors import ConfigError
from object_detection.data import decoder as decoder_lib
from object_detection.data import record_files
from object_detection.data import record_guard
from object_detection.data import resumable_order
from object_detection.dataset_tools import shard_manifest
from object_detection.protos import input_reader_pb2

_LOG = logging.getLogger(__name__)
_TEMPORARY = re.compile(r"\.tmp-\d+$")  # a dataset tool's unfinished output


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
  files, temporaries = [], []
  for pattern in patterns:
    for path in sorted(tf.io.gfile.glob(pattern)):
      if shard_manifest.is_manifest(path):
        continue  # a shard set's manifest (a broad glob such as dir/* matches it)
      if _TEMPORARY.search(path):
        temporaries.append(path)
        continue
      files.append(path)
  if temporaries:
    _LOG.warning("%s: left out %d temporary file(s) of an unfinished conversion (e.g. %s)",
                 field_path, len(temporaries), temporaries[0])
  if not files:
    raise ConfigError(f"{field_path}.tf_record_input_reader.input_path: no file matches "
                      f"(got {patterns}; expected existing TFRecord files or globs)")
  return files


def read_dataset(config, input_context=None, seed=None, deterministic=None,
                 field_path="input_reader", stop_table=None, start=0):
  """Records of the TFRecord files of an InputReader (see the module docstring), each with the
  file it comes from and its index in that file.

  The files are checked first (`record_files.check_input_files`): not-TFRecord files are
  reported and left out, shard-set manifests are checked, and input without any record is a
  `DataError`. Files that stop short of their size while being read are reported and the rest of
  them skipped (counted under `record_guard.health(field_path)`).

  Args:
    config: InputReader message.
    input_context: optional tf.distribute.InputContext (per-worker sharding).
    seed: optional int seed for the shuffles. With it the order is resumable_order's (files in
      groups, a permutation per epoch; records block-shuffled within a group) and every record
      has a position: the stream can start again at any position (`start`).
    deterministic: force deterministic (True) or allow non-deterministic (False) element order;
      None = deterministic unless `config.shuffle`.
    field_path: where the InputReader sits in the pipeline config (messages, counts).
    stop_table: see `record_files.read_records` (given by `build`).
    start: with a seed, the position (resumable_order) of the first record to read.
  Returns:
    tf.data.Dataset of (path [] string, index [] int64, record [] string), with a seed followed
    by the record's position [] int64.
  """
  files = _input_files(config, field_path)
  num_pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline_id = input_context.input_pipeline_id if input_context else 0
  shard_records = False
  if num_pipelines > 1:
    if len(files) >= num_pipelines:
      files = files[pipeline_id::num_pipelines]  # Dataset.shard's split, done before the checks
    else:
      _LOG.warning("%s: %d files for %d input pipelines; sharding records instead of files",
                   field_path, len(files), num_pipelines)
      shard_records = True
  record_guard.health(field_path).strict = bool(config.strict_records)
  files, sizes = record_files.check_input_files(
      files, field_path, f"{field_path}.tf_record_input_reader.input_path",
      strict=bool(config.strict_records))
  if deterministic is None:
    deterministic = not config.shuffle
  dataset = record_files.read_records(
      files, sizes, field_path, num_readers=config.num_readers,
      block_length=config.read_block_length, shuffle=config.shuffle, seed=seed,
      filenames_shuffle_buffer_size=config.filenames_shuffle_buffer_size,
      num_epochs=config.num_epochs, deterministic=deterministic, stop_table=stop_table,
      shuffle_buffer_size=config.shuffle_buffer_size, start=start)
  if seed is not None:  # already block-shuffled; shard by position (a resumed run keeps it)
    if shard_records:
      dataset = dataset.filter(lambda path, index, record, pos: tf.equal(
          resumable_order.index_in_group(pos) % num_pipelines, pipeline_id))
    return dataset
  if shard_records:
    dataset = dataset.shard(num_pipelines, pipeline_id)
  if config.shuffle:
    dataset = dataset.shuffle(max(1, int(config.shuffle_buffer_size)), seed=seed)
  return dataset


def build(input_reader_config, batch_size=None, transform_input_data_fn=None, input_context=None,
          seed=None, deterministic=None, field_path="input_reader", start=0):
  """The full pipeline: read, sample, decode, transform, batch, prefetch.

  Decoding and the transform run per record inside `record_guard.guarded_map`: a record on
  which either fails is logged with its file and index, counted and skipped (or, with
  `strict_records`, stops the run with a DataError naming it).

  Args:
    input_reader_config: InputReader message.
    batch_size: per-replica batch size, or None (unbatched).
    transform_input_data_fn: optional `fn(tensor_dict, seed [2] int64) -> structure`, applied to
      each decoded example (augmentation, preprocessing, padding).
    input_context: optional tf.distribute.InputContext.
    seed: optional int; with it, the order and augmentation seeds are reproducible, keyed by
      each record's position (data/resumable_order.py: the training path), and when the
      transform returns `(features dict, ...)` the features get each example's position under
      `resumable_order.POSITION_KEY` ([] int64; [B] batched): the train loop saves it.
    deterministic: see `read_dataset`.
    field_path: where the InputReader sits in the pipeline config (error messages).
    start: with a seed, the position of the first record (a resumed run: the position saved).
  Returns:
    tf.data.Dataset.
  """
  decoder = build_decoder(input_reader_config, field_path)
  if deterministic is None:
    deterministic = not input_reader_config.shuffle or seed is not None
  stop_table = record_guard.make_stop_table()
  dataset = read_dataset(input_reader_config, input_context, seed, deterministic, field_path,
                         stop_table, start)
  n = int(input_reader_config.sample_1_of_n_examples)
  if n > 1 and seed is not None:
    dataset = dataset.filter(lambda path, index, record, pos: tf.equal(
        resumable_order.index_in_group(pos) % n, 0))
  elif n > 1:
    dataset = dataset.shard(n, 0)
  if transform_input_data_fn is not None and seed is not None:
    # (path, index, record, position, seed): the seed is keyed by the position.
    pipeline_seed = seed + 7919 * (input_context.input_pipeline_id if input_context else 0)
    dataset = dataset.map(lambda path, index, record, pos: (
        path, index, record, pos, resumable_order.element_seed(pipeline_seed, pos)))

    def fn(serialized, pos, example_seed):
      return _with_position(transform_input_data_fn(decoder.decode(serialized), example_seed),
                            pos)
  elif transform_input_data_fn is not None:
    seeds = tf.data.Dataset.random().batch(2, drop_remainder=True)
    dataset = tf.data.Dataset.zip((dataset, seeds)).map(
        lambda record, example_seed: (*record, example_seed))

    def fn(serialized, example_seed):
      return transform_input_data_fn(decoder.decode(serialized), example_seed)
  elif seed is not None:
    def fn(serialized, pos):
      del pos
      return decoder.decode(serialized)
  else:
    fn = decoder.decode
  dataset = record_guard.guarded_map(
      dataset, fn, field_path, _diagnose_fn(decoder, transform_input_data_fn),
      num_parallel_calls=tf.data.AUTOTUNE, stop_table=stop_table)
  if batch_size:
    dataset = dataset.batch(batch_size, drop_remainder=input_reader_config.drop_remainder,
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
  options = tf.data.Options()
  options.deterministic = bool(deterministic)
  return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def _with_position(out, pos):
  """`out` with `pos` under resumable_order.POSITION_KEY in its features (a (dict, ...) tuple);
  other structures unchanged."""
  if isinstance(out, tuple) and out and isinstance(out[0], dict):
    return (dict(out[0], **{resumable_order.POSITION_KEY: pos}),) + tuple(out[1:])
  return out


def _diagnose_fn(decoder, transform_input_data_fn):
  """`diagnose(record, [position], [seed])` -> why decoding (then the transform) fails on that
  record (the augmentation seed is the last extra)."""
  transform = None
  if transform_input_data_fn is not None:
    transform = tf.function(lambda record, seed: transform_input_data_fn(decoder.decode(record),
                                                                         seed))

  def diagnose(record, *extras):
    reason = decoder.diagnose(record)
    if reason is not None or transform is None:
      return reason or "failed in the pipeline, though it decodes on its own (a transient error?)"
    try:
      transform(tf.constant(record, tf.string), tf.constant(extras[-1], tf.int64))
    except (tf.errors.OpError, ValueError) as e:
      return "preprocessing failed: " + decoder_lib.clean_tf_message(
          getattr(e, "message", None) or str(e))
    return "failed in the pipeline, though it decodes and preprocesses on its own (transient?)"
  return diagnose
