"""Numeric values of a pipeline config: every float finite, and known fields inside their range.

    value_checks.validate(pipeline, source="x.config")   # raises ConfigError listing problems

Protobuf's text parser accepts `nan`, `inf`, `-inf` and values that overflow float32 (`1e39`
becomes inf) for every float field. Such a value loads silently and surfaces much later as a NaN
loss or non-finite detections (a NaN `channel_means` makes every detection NaN). This module
walks every float/double field that is set (scalars, repeated values, map values, at any depth,
without knowing the schema) and then checks the fields of `RANGES`: probabilities, IoU
thresholds, learning rates, momenta and decays, loss weights, anchor geometry.

Problems read `<field path>: <problem> (got X; expected Y)`, where the field path is the
dotted path from the pipeline root with `[i]` for repeated entries, e.g.
`model.center_net.feature_extractor.channel_means[1]: not a finite number (got nan; ...)`.
"""

import dataclasses
import math

from google.protobuf import descriptor

from object_detection.core.errors import ConfigError

_FLOAT_TYPES = (descriptor.FieldDescriptor.TYPE_FLOAT, descriptor.FieldDescriptor.TYPE_DOUBLE)


@dataclasses.dataclass(frozen=True)
class Range:
  """Allowed interval of a field: `lo`/`hi` bounds (None = unbounded), open or closed."""
  lo: float = None
  hi: float = None
  lo_open: bool = False
  hi_open: bool = False
  what: str = ""

  def contains(self, value):
    if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
      return False
    if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
      return False
    return True

  def describe(self):
    if self.lo is not None and self.hi is not None:
      left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
      text = f"in {left}{_g(self.lo)}, {_g(self.hi)}{right}"
    elif self.lo is not None:
      text = f"{'>' if self.lo_open else '>='} {_g(self.lo)}"
    else:
      text = f"{'<' if self.hi_open else '<='} {_g(self.hi)}"
    return f"{text}, {self.what}" if self.what else text


def _g(value):
  return f"{value:.6g}"


PROBABILITY = Range(0.0, 1.0, what="a probability")
FRACTION = Range(0.0, 1.0, what="a fraction")
IOU = Range(0.0, 1.0, what="an IoU threshold")
RATE = Range(0.0, lo_open=True, what="a learning rate")
RATE_OR_ZERO = Range(0.0, what="a learning rate")
DECAY = Range(0.0, 1.0, what="a decay/momentum factor")
WEIGHT = Range(0.0, what="a loss weight")
POSITIVE = Range(0.0, lo_open=True, what="a size or ratio")
NON_NEGATIVE = Range(0.0)

# Field name -> Range, or (message full name, field name) -> Range for names whose meaning
# depends on the message. A message-specific entry wins over a name entry.
RANGES = {
    # probabilities and fractions
    "probability": PROBABILITY,
    "drop_probability": PROBABILITY,
    "random_coef": PROBABILITY,
    "concat_vertical_probability": PROBABILITY,
    "concat_horizontal_probability": PROBABILITY,
    "augmented_self_supervision_flip_probability": PROBABILITY,
    "dropout_keep_probability": Range(0.0, 1.0, lo_open=True, what="a keep probability"),
    "positive_sample_fraction": FRACTION,
    "first_stage_positive_balance_fraction": FRACTION,
    "second_stage_balance_fraction": FRACTION,
    "min_object_covered": FRACTION,
    "recall_lower_bound": FRACTION,
    "recall_upper_bound": FRACTION,
    # IoU thresholds
    "iou_threshold": IOU,
    "first_stage_nms_iou_threshold": IOU,
    "min_box_overlap_iou": Range(0.0, 1.0, lo_open=True, what="an IoU threshold"),
    "overlap_thresh": IOU,
    # learning rates
    "learning_rate_base": RATE,
    "initial_learning_rate": RATE,
    ("object_detection.protos.ConstantLearningRate", "learning_rate"): RATE,
    ("object_detection.protos.ManualStepLearningRate.LearningRateSchedule", "learning_rate"):
        RATE_OR_ZERO,
    "warmup_learning_rate": RATE_OR_ZERO,
    "burnin_learning_rate": RATE_OR_ZERO,
    "min_learning_rate": RATE_OR_ZERO,
    "decay_factor": Range(0.0, lo_open=True, what="a decay factor"),
    # momenta and decays
    "momentum_optimizer_value": DECAY,
    "moving_average_decay": DECAY,
    "decay": DECAY,  # RMSProp decay, batch-norm decay (momentum)
    # loss weights and other non-negative scalars
    "gradient_clipping_by_norm": NON_NEGATIVE,
    "max_roi_jitter_ratio": NON_NEGATIVE,
    "classification_weight": WEIGHT,
    "localization_weight": WEIGHT,
    "negative_class_weight": WEIGHT,
    ("object_detection.protos.L1Regularizer", "weight"): WEIGHT,
    ("object_detection.protos.L2Regularizer", "weight"): WEIGHT,
    # anchor and crop geometry
    "aspect_ratios": POSITIVE,
    "scales": POSITIVE,
    "base_anchor_height": POSITIVE,
    "base_anchor_width": POSITIVE,
    "anchor_scale": POSITIVE,
    "min_scale_ratio": POSITIVE,
    "max_scale_ratio": POSITIVE,
    "channel_stds": POSITIVE,
}


def range_of(message_descriptor, field_name):
  """The Range of `field_name` in a message type, or None (suffix rule: `*_loss_weight`)."""
  key = (message_descriptor.full_name, field_name)
  if key in RANGES:
    return RANGES[key]
  if field_name in RANGES:
    return RANGES[field_name]
  if field_name.endswith("loss_weight"):
    return WEIGHT
  return None


def _repeated(field):
  flag = getattr(field, "is_repeated", None)  # protobuf >= 5; older versions only have `label`
  return flag if flag is not None else field.label == descriptor.FieldDescriptor.LABEL_REPEATED


def _is_map(field):
  return (field.type == descriptor.FieldDescriptor.TYPE_MESSAGE
          and field.message_type.GetOptions().map_entry)


def _check_float(value, path, allowed, problems):
  if not math.isfinite(value):
    problems.append(f"{path}: not a finite number (got {value}; expected a finite float"
                    f"{', ' + allowed.describe() if allowed else ''})")
  elif allowed is not None and not allowed.contains(value):
    problems.append(f"{path}: out of range (got {_g(value)}; expected {allowed.describe()})")


def _walk(message, path, problems):
  for field, value in message.ListFields():
    sub = f"{path}.{field.name}" if path else field.name
    if _is_map(field):
      value_field = field.message_type.fields_by_name["value"]
      for key in sorted(value):
        item = value[key]
        if value_field.type in _FLOAT_TYPES:
          _check_float(item, f"{sub}[{key!r}]", None, problems)
        elif value_field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
          _walk(item, f"{sub}[{key!r}]", problems)
    elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
      if _repeated(field):
        for index, item in enumerate(value):
          _walk(item, f"{sub}[{index}]", problems)
      else:
        _walk(value, sub, problems)
    elif field.type in _FLOAT_TYPES:
      allowed = range_of(message.DESCRIPTOR, field.name)
      if _repeated(field):
        for index, item in enumerate(value):
          _check_float(item, f"{sub}[{index}]", allowed, problems)
      else:
        _check_float(value, sub, allowed, problems)


def check(message, path=""):
  """Returns the problems (strings) of every set float field of `message` and its children."""
  problems = []
  _walk(message, path, problems)
  return problems


def validate(pipeline, source=None):
  """Raises ConfigError listing every non-finite or out-of-range value of `pipeline`."""
  problems = check(pipeline)
  if problems:
    header = f"{source}: invalid config\n" if source and len(problems) > 1 else (
        f"{source}: " if source else "")
    raise ConfigError(header + "\n".join(problems))
