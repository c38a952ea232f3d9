"""The adapter of an `ImageResizer` message (image_resizer.proto): checks it and returns the
resizer function of `object_detection/data/resizers.py`.

    resizer = image_resizer_builder.build(model_config.center_net.image_resizer,
                                          field_path="model.center_net.image_resizer")
    resized_image, resized_masks, true_image_shape = resizer(image, masks)

Entries of `core.registries.IMAGE_RESIZERS` are keyed by the oneof names and called as
`fn(sub_message, problems, path) -> resizer` (the resizer is a cheap closure over plain values;
a message with problems may give None).
"""

import functools

from object_detection.core.problems import Problems
from object_detection.core.registries import IMAGE_RESIZERS
from object_detection.data import resizers

# `ResizeType` enum of image_resizer.proto: BILINEAR=0, NEAREST_NEIGHBOR=1, BICUBIC=2, AREA=3.
RESIZE_METHODS = {0: "bilinear", 1: "nearest", 2: "bicubic", 3: "area"}
# ConditionalShapeResizer.ResizeCondition enum: INVALID=0, GREATER=1, SMALLER=2.
_CONDITIONS = {1: "GREATER", 2: "SMALLER"}


def _method(msg, problems, path):
  value = int(msg.resize_method)
  if value not in RESIZE_METHODS:
    problems.add(f"{path}.resize_method", f"unknown value (got {value}; expected one of "
                 "BILINEAR, NEAREST_NEIGHBOR, BICUBIC, AREA)")
  return RESIZE_METHODS.get(value, "bilinear")


def _maybe_gray(msg, fn):
  return resizers.with_grayscale(fn) if msg.convert_to_grayscale else fn


@IMAGE_RESIZERS.register("keep_aspect_ratio_resizer")
def _keep_aspect_ratio(msg, problems, path):
  problems.positive(msg, "min_dimension", path)
  problems.positive(msg, "max_dimension", path)
  if 0 < msg.max_dimension < msg.min_dimension:
    problems.add(f"{path}.max_dimension", f"smaller than min_dimension (got {msg.max_dimension}; "
                 f"expected >= {msg.min_dimension})")
  pad_values = tuple(msg.per_channel_pad_value) or (0.0, 0.0, 0.0)
  if len(pad_values) not in (1, 3):
    problems.add(f"{path}.per_channel_pad_value", f"wrong length (got {len(pad_values)} values; "
                 "expected 3, or 1 for grayscale)")
  return _maybe_gray(msg, functools.partial(
      resizers.resize_to_range, min_dimension=int(msg.min_dimension),
      max_dimension=int(msg.max_dimension), method=_method(msg, problems, path),
      pad_to_max_dimension=bool(msg.pad_to_max_dimension), per_channel_pad_value=pad_values))


@IMAGE_RESIZERS.register("fixed_shape_resizer")
def _fixed_shape(msg, problems, path):
  problems.positive(msg, "height", path)
  problems.positive(msg, "width", path)
  return _maybe_gray(msg, functools.partial(
      resizers.resize_image, new_height=int(msg.height), new_width=int(msg.width),
      method=_method(msg, problems, path)))


@IMAGE_RESIZERS.register("identity_resizer")
def _identity(msg, problems, path):
  del msg, problems, path
  return resizers.identity_resize


@IMAGE_RESIZERS.register("pad_to_multiple_resizer")
def _pad_to_multiple(msg, problems, path):
  problems.positive(msg, "multiple", path)
  return _maybe_gray(msg, functools.partial(resizers.pad_to_multiple,
                                            multiple=int(msg.multiple)))


@IMAGE_RESIZERS.register("conditional_shape_resizer")
def _conditional_shape(msg, problems, path):
  condition = _CONDITIONS.get(int(msg.condition))
  if condition is None:
    problems.add(f"{path}.condition", f"must be GREATER or SMALLER (got {int(msg.condition)})")
  problems.positive(msg, "size_threshold", path)
  return _maybe_gray(msg, functools.partial(
      resizers.conditional_shape_resize, condition=condition or "GREATER",
      size_threshold=int(msg.size_threshold), method=_method(msg, problems, path)))


def translate(image_resizer_config, problems, path="model.image_resizer"):
  """Checks an ImageResizer message; returns its resizer (None when no resizer is set)."""
  name = image_resizer_config.WhichOneof("image_resizer_oneof")
  if name is None:
    problems.add(path, "no image resizer is set (expected one of: "
                 f"{', '.join(IMAGE_RESIZERS.names())})")
    return None
  if not problems.registered(IMAGE_RESIZERS, name, path):
    return None
  return IMAGE_RESIZERS.get(name)(getattr(image_resizer_config, name), problems,
                                  f"{path}.{name}")


def build(image_resizer_config, field_path="model.image_resizer"):
  """Returns `fn(image [H,W,C] float32, masks=None) -> (image, masks_or_None, true_shape [3])`.

  Args:
    image_resizer_config: an `ImageResizer` proto message.
    field_path: where the message sits in the pipeline config (for error messages).
  Raises:
    ConfigError: no resizer set, or invalid values (every problem listed).
  """
  problems = Problems()
  resizer = translate(image_resizer_config, problems, field_path)
  problems.raise_if_any()
  return resizer
