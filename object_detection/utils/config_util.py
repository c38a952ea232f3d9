"""The original Object Detection API's config helpers, as thin doors into `object_detection.config`.

Users' scripts import these names; the work (parsing with file:line errors, overrides,
normalisation, validation, atomic save) lives in `object_detection/config/`.

The `configs` dict has the original's keys: `model`, `train_config`, `train_input_config`,
`eval_config`, `eval_input_configs` (list), `eval_input_config` (the first of them) and
`graph_rewriter_config` (only when present).
"""

import logging
import math

from google.protobuf import message as protobuf_message

from object_detection.config import external_params
from object_detection.config import loader
from object_detection.config import overrides as overrides_lib
from object_detection.config.text_parse import parse_text
from object_detection.core.errors import ConfigError, did_you_mean
from object_detection.protos import eval_pb2
from object_detection.protos import graph_rewriter_pb2
from object_detection.protos import input_reader_pb2
from object_detection.protos import model_pb2
from object_detection.protos import pipeline_pb2
from object_detection.protos import train_pb2

_LOG = logging.getLogger(__name__)



def get_configs_from_pipeline_file(pipeline_config_path, config_override=None, validate=True):
  """Reads a pipeline config file into the configs dict.

  Args:
    pipeline_config_path: text-format TrainEvalPipelineConfig file.
    config_override: optional text-format fragment merged into the file's config.
    validate: run the semantic checks of object_detection/config/validation.py.

  Returns:
    dict with keys model, train_config, train_input_config, eval_config, eval_input_configs,
    eval_input_config (+ graph_rewriter_config when set).

  Raises:
    ConfigError: see object_detection.config.load_pipeline_config.
  """
  pipeline = loader.load_pipeline_config(pipeline_config_path, config_override=config_override,
                                         validate=validate)
  return create_configs_from_pipeline_proto(pipeline)


def create_configs_from_pipeline_proto(pipeline_config):
  """TrainEvalPipelineConfig -> configs dict (messages are copies)."""
  copy = pipeline_pb2.TrainEvalPipelineConfig()
  copy.CopyFrom(pipeline_config)
  configs = {
      "model": copy.model,
      "train_config": copy.train_config,
      "train_input_config": copy.train_input_reader,
      "eval_config": copy.eval_config,
      "eval_input_configs": list(copy.eval_input_reader),
  }
  if configs["eval_input_configs"]:
    configs["eval_input_config"] = configs["eval_input_configs"][0]
  if copy.HasField("graph_rewriter"):
    configs["graph_rewriter_config"] = copy.graph_rewriter
  return configs


def create_pipeline_proto_from_configs(configs):
  """configs dict -> TrainEvalPipelineConfig (the inverse of create_configs_from_pipeline_proto).

  `eval_input_configs` wins over `eval_input_config` when both are given.
  """
  pipeline = pipeline_pb2.TrainEvalPipelineConfig()
  for key in ("model", "train_config", "eval_config"):
    if configs.get(key) is not None:
      getattr(pipeline, key).CopyFrom(configs[key])
  if configs.get("train_input_config") is not None:
    pipeline.train_input_reader.CopyFrom(configs["train_input_config"])
  readers = configs.get("eval_input_configs")
  if readers is None and configs.get("eval_input_config") is not None:
    readers = [configs["eval_input_config"]]
  for reader in readers or ():
    pipeline.eval_input_reader.add().CopyFrom(reader)
  if configs.get("graph_rewriter_config") is not None:
    pipeline.graph_rewriter.CopyFrom(configs["graph_rewriter_config"])
  return pipeline


def save_pipeline_config(pipeline_config, directory):
  """Writes `directory/pipeline.config` atomically (temp file + rename); returns its path."""
  return loader.save_pipeline_config(pipeline_config, directory)


def get_configs_from_multiple_files(model_config_path="", train_config_path="",
                                    train_input_config_path="", eval_config_path="",
                                    eval_input_config_path="", graph_rewriter_config_path=""):
  """Reads each part from its own text file (the original's TF1-era layout)."""
  configs = {}
  parts = (
      ("model", model_config_path, model_pb2.DetectionModel),
      ("train_config", train_config_path, train_pb2.TrainConfig),
      ("train_input_config", train_input_config_path, input_reader_pb2.InputReader),
      ("eval_config", eval_config_path, eval_pb2.EvalConfig),
      ("graph_rewriter_config", graph_rewriter_config_path, graph_rewriter_pb2.GraphRewriter),
  )
  for key, path, message_type in parts:
    if path:
      configs[key] = parse_text(loader.read_text(path), message_type(), path)
  if eval_input_config_path:
    paths = ([eval_input_config_path] if isinstance(eval_input_config_path, str)
             else list(eval_input_config_path))
    configs["eval_input_configs"] = [
        parse_text(loader.read_text(p), input_reader_pb2.InputReader(), p) for p in paths]
    configs["eval_input_config"] = configs["eval_input_configs"][0]
  return configs


def get_number_of_classes(model_config):
  """num_classes of the DetectionModel's meta-architecture."""
  kind = model_config.WhichOneof("model")
  if kind in ("faster_rcnn", "ssd", "center_net"):
    return getattr(model_config, kind).num_classes
  raise ConfigError(f"model: no num_classes for meta-architecture {kind!r} (expected one of: "
                    "faster_rcnn, ssd, center_net)")


def get_image_resizer_config(model_config):
  """The ImageResizer message of the DetectionModel."""
  kind = model_config.WhichOneof("model")
  if kind in ("faster_rcnn", "ssd", "center_net"):
    return getattr(model_config, kind).image_resizer
  raise ConfigError(f"model: no image_resizer for meta-architecture {kind!r} (expected one of: "
                    "faster_rcnn, ssd, center_net)")


def get_spatial_image_size(image_resizer_config):
  """[height, width] of the resized images; -1 for a dimension that varies per image."""
  kind = image_resizer_config.WhichOneof("image_resizer_oneof")
  if kind == "fixed_shape_resizer":
    return [image_resizer_config.fixed_shape_resizer.height,
            image_resizer_config.fixed_shape_resizer.width]
  if kind == "keep_aspect_ratio_resizer":
    keep = image_resizer_config.keep_aspect_ratio_resizer
    if keep.pad_to_max_dimension:
      return [keep.max_dimension] * 2
    return [-1, -1]
  if kind in ("identity_resizer", "conditional_shape_resizer", "pad_to_multiple_resizer"):
    return [-1, -1]
  raise ConfigError(f"image_resizer: unknown resizer {kind!r} (expected one of: "
                    "keep_aspect_ratio_resizer, fixed_shape_resizer, identity_resizer, "
                    "conditional_shape_resizer, pad_to_multiple_resizer)")


def get_optimizer_type(train_config):
  """Name of the optimizer oneof, e.g. "adam_optimizer"."""
  return train_config.optimizer.WhichOneof("optimizer")


def get_learning_rate_type(optimizer_config):
  """Name of the learning-rate oneof, e.g. "cosine_decay_learning_rate"."""
  return optimizer_config.learning_rate.WhichOneof("learning_rate")


def merge_external_params_with_configs(configs, hparams=None, kwargs_dict=None, validate=True):
  """Applies command-line / hyper-parameter overrides to a configs dict.

  Keys are the original's (learning_rate, batch_size, momentum_optimizer_value, train_steps,
  eval_steps, train_input_path, eval_input_path, label_map_path, mask_type, num_classes,
  sample_1_of_n_eval_examples, sample_1_of_n_eval_on_train_examples (applied to
  configs["eval_on_train_input_config"] when the caller added it), eval_num_epochs, eval_shuffle,
  retain_original_images_in_eval, use_moving_averages, use_bfloat16, use_labeled_classes, ...) or a
  dotted field path (`model.center_net.num_classes`, `train_input_config.label_map_path`,
  `eval_input_reader[0].shuffle`). None values are skipped, as in the original.

  Args:
    configs: dict from get_configs_from_pipeline_file.
    hparams: object with `.values()` -> dict (e.g. an HParams) or a dict, or None.
    kwargs_dict: dict of overrides, or None. Applied after hparams.
    validate: normalise and validate the result.

  Returns:
    A new configs dict with the overrides applied.

  Raises:
    ConfigError: unknown key, bad value, or an invalid result.
  """
  pipeline = create_pipeline_proto_from_configs(configs)
  # Keys that are not part of the pipeline (e.g. the trainer's eval_on_train_input_config) are
  # carried over untouched (copied).
  extras = {}
  for key, value in configs.items():
    if key in external_params.CONFIGS_DICT_TO_PIPELINE:
      continue
    if isinstance(value, protobuf_message.Message):
      extras[key] = type(value)()
      extras[key].CopyFrom(value)
    else:
      extras[key] = value
  updates = {}
  if hparams is not None:
    updates.update(hparams.values() if hasattr(hparams, "values") and callable(
        hparams.values) and not isinstance(hparams, dict) else hparams)
  updates.update(kwargs_dict or {})
  for key, value in updates.items():
    if value is None:
      continue
    if isinstance(value, float) and math.isnan(value):
      raise ConfigError(f"{key}: not a number (got nan)")
    _LOG.info("Overriding config: %s = %r", key, value)
    if key == "sample_1_of_n_eval_on_train_examples":
      if "eval_on_train_input_config" in extras:
        extras["eval_on_train_input_config"].sample_1_of_n_examples = int(value)
      else:
        _LOG.info("No eval_on_train_input_config in configs: %s ignored", key)
    elif external_params.apply_known_key(pipeline, key, value):
      pass
    elif "." in key:
      overrides_lib.apply_overrides(pipeline, {external_params.dotted_key(key): value})
    else:
      known = list(external_params.KNOWN_KEYS) + ["sample_1_of_n_eval_on_train_examples"]
      raise ConfigError(f"{key}: unknown override{did_you_mean(key, known)} (expected one of: "
                        f"{', '.join(sorted(known))}, or a dotted field path such as "
                        "train_config.batch_size)")
  loader.finalize(pipeline, validate=validate)
  merged = create_configs_from_pipeline_proto(pipeline)
  merged.update(extras)
  return merged
