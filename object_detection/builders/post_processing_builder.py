"""Builds NMS parameters and the score converter from a PostProcessing message.

`build(message)` returns `(nms_params, score_converter)` like the original's
post_processing_builder.build; the batched NMS itself is ops/nms.py, called by the model with
`nms_params.nms_kwargs()`.

Score converter: `scores = convert(logits / logit_scale)` with convert = identity, sigmoid or
softmax (last axis), then the optional calibration (sigmoid or piecewise-linear, for all classes
or per score column).
Temperature-scaling calibration divides the logits before the converter, i.e. it multiplies
logit_scale (as in the original).
"""

import dataclasses
import functools

import tensorflow as tf

from object_detection.core.errors import ConfigError

_POST_PROCESSING = "object_detection.protos.PostProcessing"


@dataclasses.dataclass(frozen=True)
class NmsParams:
  """Batched multi-class NMS settings (fields of BatchNonMaxSuppression, same names).

  score_threshold: only detections scoring above it enter NMS.
  iou_threshold: in [0, 1].
  max_detections_per_class, max_total_detections: ints, per class / per image (output padding).
  use_static_shapes, use_partitioned_nms, use_combined_nms, use_hard_nms, use_cpu_nms:
    implementation choices of the original (same result up to ties).
  use_class_agnostic_nms, max_classes_per_detection: one NMS over all classes.
  soft_nms_sigma: > 0 selects Soft-NMS (Gaussian), 0 is hard NMS.
  change_coordinate_frame: output boxes relative to the clip window.
  """
  score_threshold: float = 0.0
  iou_threshold: float = 0.6
  max_detections_per_class: int = 100
  max_total_detections: int = 100
  use_static_shapes: bool = False
  use_class_agnostic_nms: bool = False
  max_classes_per_detection: int = 1
  soft_nms_sigma: float = 0.0
  use_partitioned_nms: bool = False
  use_combined_nms: bool = False
  change_coordinate_frame: bool = True
  use_hard_nms: bool = False
  use_cpu_nms: bool = False

  def nms_kwargs(self):
    """kwargs of ops.nms.batch_multiclass_nms."""
    return dict(score_threshold=self.score_threshold, iou_threshold=self.iou_threshold,
                max_size_per_class=self.max_detections_per_class,
                max_total_size=self.max_total_detections,
                class_agnostic=self.use_class_agnostic_nms)


def build_nms_params(message, field_path="batch_non_max_suppression"):
  """BatchNonMaxSuppression message -> NmsParams, with the original's checks."""
  if not 0.0 <= message.iou_threshold <= 1.0:
    raise ConfigError(f"{field_path}.iou_threshold: out of range (got {message.iou_threshold}; "
                      "expected 0 to 1)")
  if message.max_detections_per_class > message.max_total_detections:
    raise ConfigError(
        f"{field_path}.max_detections_per_class: larger than max_total_detections (got "
        f"{message.max_detections_per_class}; expected <= {message.max_total_detections})")
  if message.soft_nms_sigma < 0.0:
    raise ConfigError(f"{field_path}.soft_nms_sigma: must be non-negative (got "
                      f"{message.soft_nms_sigma}; expected >= 0)")
  if message.use_combined_nms and message.use_class_agnostic_nms:
    raise ConfigError(f"{field_path}.use_combined_nms: combined NMS has no class-agnostic mode "
                      "(got use_combined_nms and use_class_agnostic_nms both true; expected at "
                      "most one)")
  return NmsParams(**{f.name: getattr(message, f.name) for f in dataclasses.fields(NmsParams)})


def convert_scores(logits, converter="identity", logit_scale=1.0):
  """Scores from class logits: converter(logits / logit_scale).

  Args:
    logits: [..., K] float32 class logits.
    converter: "identity", "sigmoid" or "softmax" (over the last axis).
    logit_scale: float > 0.
  Returns:
    [..., K] float32 scores.
  """
  scaled = tf.cast(logits, tf.float32) * (1.0 / logit_scale)
  if converter == "sigmoid":
    return tf.sigmoid(scaled)
  if converter == "softmax":
    return tf.nn.softmax(scaled, axis=-1)
  return tf.identity(scaled)


def sigmoid_calibration(scores, a=-1.0, b=0.0):
  """1 / (1 + exp(a * scores + b)), element-wise ([...] float32 -> [...] float32)."""
  return tf.sigmoid(-(a * scores + b))


def piecewise_linear_calibration(scores, x, y):
  """Linear interpolation through the points (x[i], y[i]), constant beyond the end points.

  Args:
    scores: [...] float32.
    x: [n] float32 increasing sample points; y: [n] float32 values.
  Returns:
    [...] float32.
  """
  x = tf.constant(x, tf.float32)
  y = tf.constant(y, tf.float32)
  flat = tf.reshape(tf.cast(scores, tf.float32), [-1])
  # Index of the segment [x[i], x[i+1]] holding each score.
  i = tf.clip_by_value(tf.searchsorted(x, flat, side="right") - 1, 0, tf.size(x) - 2)
  x0, x1 = tf.gather(x, i), tf.gather(x, i + 1)
  y0, y1 = tf.gather(y, i), tf.gather(y, i + 1)
  t = tf.clip_by_value((flat - x0) / tf.maximum(x1 - x0, 1e-12), 0.0, 1.0)
  return tf.reshape(y0 + t * (y1 - y0), tf.shape(scores))


def per_class_calibration(scores, functions):
  """Applies functions[k] to score column k; columns without a function are unchanged.

  Args:
    scores: [..., K] float32 (column index as in the score tensor, background included when the
      model has one: the original keys calibrations by this index).
    functions: dict column index -> callable([...] float32) -> [...] float32.
  Returns:
    [..., K] float32.
  """
  columns = tf.unstack(scores, axis=-1)
  return tf.stack([functions[k](c) if k in functions else c for k, c in enumerate(columns)],
                  axis=-1)


def _interpolation(pairs_message, field_path):
  pairs = sorted((q.x, q.y) for q in pairs_message.x_y_pair)
  if len(pairs) < 2:
    raise ConfigError(f"{field_path}: too few points (got {len(pairs)}; expected at least 2)")
  return functools.partial(piecewise_linear_calibration, x=[p[0] for p in pairs],
                           y=[p[1] for p in pairs])


def _build_calibration(message, field_path):
  """CalibrationConfig -> callable(scores) or None (temperature scaling is handled as a scale)."""
  kind = message.WhichOneof("calibrator")
  path = f"{field_path}.{kind}"
  if kind in (None, "temperature_scaling_calibration"):
    return None
  if kind == "sigmoid_calibration":
    p = message.sigmoid_calibration.sigmoid_parameters
    return functools.partial(sigmoid_calibration, a=p.a, b=p.b)
  if kind == "function_approximation":
    return _interpolation(message.function_approximation.x_y_pairs, f"{path}.x_y_pairs")
  if kind == "class_id_sigmoid_calibrations":
    per_class = message.class_id_sigmoid_calibrations.class_id_sigmoid_parameters_map
    functions = {k: functools.partial(sigmoid_calibration, a=p.a, b=p.b)
                 for k, p in per_class.items()}
  else:  # class_id_function_approximations
    per_class = message.class_id_function_approximations.class_id_xy_pairs_map
    functions = {k: _interpolation(pairs, f"{path}.class_id_xy_pairs_map[{k}]")
                 for k, pairs in per_class.items()}
  return functools.partial(per_class_calibration, functions=functions)


_CONVERTERS = {0: "identity", 1: "sigmoid", 2: "softmax"}


def _compose(score_converter, calibration, logits):
  return calibration(score_converter(logits))


def build_score_converter(message, field_path="post_processing"):
  """PostProcessing message -> callable(logits [..., K] float32) -> scores [..., K] float32."""
  logit_scale = message.logit_scale
  if not logit_scale > 0:
    raise ConfigError(f"{field_path}.logit_scale: must be positive (got {logit_scale}; "
                      "expected > 0)")
  calibration = None
  if message.HasField("calibration_config"):
    calibration_path = f"{field_path}.calibration_config"
    if message.calibration_config.HasField("temperature_scaling_calibration"):
      # The original divides the logits by the temperature, then applies the converter (which
      # divides by logit_scale again): one scale of logit_scale * temperature.
      temperature = message.calibration_config.temperature_scaling_calibration.scaler
      if not temperature > 0:
        raise ConfigError(f"{calibration_path}.temperature_scaling_calibration.scaler: must be "
                          f"positive (got {temperature}; expected > 0)")
      logit_scale *= temperature
    calibration = _build_calibration(message.calibration_config, calibration_path)
  converter = functools.partial(convert_scores, converter=_CONVERTERS[message.score_converter],
                                logit_scale=logit_scale)
  if calibration is None:
    return converter
  return functools.partial(_compose, converter, calibration)


def build(message, field_path="post_processing"):
  """PostProcessing message -> (NmsParams, score_converter callable).

  Raises:
    ConfigError: wrong message type or an invalid NMS / score setting.
  """
  got = getattr(getattr(message, "DESCRIPTOR", None), "full_name", type(message).__name__)
  if got != _POST_PROCESSING:
    raise ConfigError(f"{field_path}: wrong message type (got {got}; expected {_POST_PROCESSING})")
  nms_params = build_nms_params(message.batch_non_max_suppression,
                                f"{field_path}.batch_non_max_suppression")
  return nms_params, build_score_converter(message, field_path)
