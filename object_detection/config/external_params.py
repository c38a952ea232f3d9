"""The original's named external parameters (`merge_external_params_with_configs` keys).

Each known key updates a TrainEvalPipelineConfig in place, with the original's semantics (e.g.
`learning_rate` sets the initial rate and scales the rest of the schedule by the same ratio;
`batch_size` is rounded; `eval_input_path` / `label_map_path` / `mask_type` apply to every reader
concerned). Other keys are dotted field paths, whose first element may be a configs-dict key
(`train_input_config.label_map_path`); see `dotted_key`.
"""

from object_detection.core.errors import ConfigError
from object_detection.protos import input_reader_pb2

# configs-dict key -> pipeline field (also accepted as the first element of a dotted override).
CONFIGS_DICT_TO_PIPELINE = {
    "model": "model",
    "train_config": "train_config",
    "train_input_config": "train_input_reader",
    "eval_config": "eval_config",
    "eval_input_configs": "eval_input_reader",
    "eval_input_config": "eval_input_reader",
    "graph_rewriter_config": "graph_rewriter",
}


def _eval_readers(pipeline):
  return list(pipeline.eval_input_reader)


def _all_readers(pipeline):
  return [pipeline.train_input_reader] + _eval_readers(pipeline)


def _set_input_path(reader, value):
  paths = [value] if isinstance(value, str) else list(value)
  reader.tf_record_input_reader.ClearField("input_path")
  reader.tf_record_input_reader.input_path.extend(paths)


def _update_learning_rate(pipeline, value):
  """Sets the initial learning rate; the rest of the schedule is scaled by the same ratio."""
  kind = pipeline.train_config.optimizer.WhichOneof("optimizer")
  if kind is None:
    raise ConfigError("learning_rate: train_config.optimizer is not set (expected one of: "
                      "rms_prop_optimizer, momentum_optimizer, adam_optimizer)")
  rate = getattr(pipeline.train_config.optimizer, kind).learning_rate
  schedule = rate.WhichOneof("learning_rate")
  value = float(value)
  if schedule == "constant_learning_rate":
    rate.constant_learning_rate.learning_rate = value
  elif schedule == "exponential_decay_learning_rate":
    rate.exponential_decay_learning_rate.initial_learning_rate = value
  elif schedule == "manual_step_learning_rate":
    manual = rate.manual_step_learning_rate
    ratio = value / manual.initial_learning_rate if manual.initial_learning_rate else 1.0
    manual.initial_learning_rate = value
    for step in manual.schedule:
      step.learning_rate *= ratio
  elif schedule == "cosine_decay_learning_rate":
    cosine = rate.cosine_decay_learning_rate
    ratio = value / cosine.learning_rate_base if cosine.learning_rate_base else 1.0
    cosine.learning_rate_base = value
    cosine.warmup_learning_rate *= ratio
  else:
    raise ConfigError(f"learning_rate: no learning-rate schedule in train_config.optimizer.{kind} "
                      "(expected constant, exponential_decay, manual_step or cosine_decay)")


def _update_momentum(pipeline, value):
  kind = pipeline.train_config.optimizer.WhichOneof("optimizer")
  if kind not in ("rms_prop_optimizer", "momentum_optimizer"):
    raise ConfigError(f"momentum_optimizer_value: optimizer {kind!r} has no momentum (expected "
                      "rms_prop_optimizer or momentum_optimizer)")
  getattr(pipeline.train_config.optimizer, kind).momentum_optimizer_value = min(
      max(0.0, float(value)), 1.0)


def _update_num_classes(pipeline, value):
  kind = pipeline.model.WhichOneof("model")
  if kind not in ("faster_rcnn", "ssd", "center_net"):
    raise ConfigError(f"num_classes: model has no num_classes (got meta-architecture {kind!r})")
  getattr(pipeline.model, kind).num_classes = int(value)


def _update_mask_type(pipeline, value):
  if isinstance(value, str):
    names = input_reader_pb2.InstanceMaskType.keys()
    if value not in names:
      raise ConfigError(f"mask_type: bad value (got {value!r}; expected one of: "
                        f"{', '.join(names)})")
    value = input_reader_pb2.InstanceMaskType.Value(value)
  for reader in _all_readers(pipeline):
    reader.mask_type = value


def _update_use_labeled_classes(pipeline, value):
  if pipeline.model.WhichOneof("model") != "center_net":
    raise ConfigError("use_labeled_classes: only CenterNet has it (expected model.center_net)")
  pipeline.model.center_net.object_center_params.use_labeled_classes = bool(value)


def _for_each_eval(field):
  def update(pipeline, value):
    for reader in _eval_readers(pipeline):
      setattr(reader, field, value)
  return update


def _not_supported(key):
  def update(pipeline, value):
    del pipeline, value
    raise ConfigError(f"{key}: SSD-only override, not supported (SSD is out of scope)")
  return update


KNOWN_KEYS = {
    "learning_rate": _update_learning_rate,
    "batch_size": lambda p, v: setattr(p.train_config, "batch_size",
                                       max(1, int(round(float(v))))),
    "momentum_optimizer_value": _update_momentum,
    "train_steps": lambda p, v: setattr(p.train_config, "num_steps", int(v)),
    "eval_steps": lambda p, v: setattr(p.eval_config, "num_examples", int(v)),
    "train_input_path": lambda p, v: _set_input_path(p.train_input_reader, v),
    "eval_input_path": lambda p, v: [_set_input_path(r, v) for r in _eval_readers(p)],
    "label_map_path": lambda p, v: [setattr(r, "label_map_path", v) for r in _all_readers(p)],
    "mask_type": _update_mask_type,
    "num_classes": _update_num_classes,
    "sample_1_of_n_eval_examples": _for_each_eval("sample_1_of_n_examples"),
    "eval_num_epochs": _for_each_eval("num_epochs"),
    "eval_shuffle": _for_each_eval("shuffle"),
    "retain_original_images_in_eval": lambda p, v: setattr(
        p.eval_config, "retain_original_images", bool(v)),
    "retain_original_image_additional_channels_in_eval": lambda p, v: setattr(
        p.eval_config, "retain_original_image_additional_channels", bool(v)),
    "use_moving_averages": lambda p, v: setattr(p.eval_config, "use_moving_averages", bool(v)),
    "use_bfloat16": lambda p, v: setattr(p.train_config, "use_bfloat16", bool(v)),
    "use_labeled_classes": _update_use_labeled_classes,
    "focal_loss_gamma": _not_supported("focal_loss_gamma"),
    "focal_loss_alpha": _not_supported("focal_loss_alpha"),
    "classification_localization_weight_ratio": _not_supported(
        "classification_localization_weight_ratio"),
}


def dotted_key(key):
  """Maps a configs-dict first element (train_input_config, ...) to the pipeline field."""
  head, _, rest = key.partition(".")
  base = head.split("[", 1)[0]
  if base in CONFIGS_DICT_TO_PIPELINE and base != CONFIGS_DICT_TO_PIPELINE[base]:
    head = CONFIGS_DICT_TO_PIPELINE[base] + head[len(base):]
    if base == "eval_input_config" and "[" not in head:
      head += "[0]"
  return f"{head}.{rest}" if rest else head


def apply_known_key(pipeline, key, value):
  """Applies one of KNOWN_KEYS to `pipeline`; returns False when `key` is not one of them."""
  if key not in KNOWN_KEYS:
    return False
  KNOWN_KEYS[key](pipeline, value)
  return True
