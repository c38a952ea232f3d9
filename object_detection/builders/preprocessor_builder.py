"""The adapters of `PreprocessingStep` messages (train_config.data_augmentation_options): each
checks its step and binds the values to an op of `object_detection/data/augment/`.

    augment = preprocessor_builder.build_all(train_config.data_augmentation_options)
    tensor_dict = augment(tensor_dict, seed)           # seed: [2] int stateless seed

Entries of `core.registries.AUGMENTATIONS` are keyed by the oneof names and called as
`fn(step_message, problems, path) -> fn(tensor_dict, seed) -> tensor_dict` (a cheap
`functools.partial`; a message with problems may give None). Load-time validation runs them
through the registry. Unsupported steps fail when the pipeline is loaded or built, never in the
middle of training.
"""

import functools

from object_detection.core.problems import Problems, short_float as _g
from object_detection.core.registries import AUGMENTATIONS
from object_detection.data import augment
from object_detection.data.augment import (
    color, crop_pad, crops, flips, jitter, labels, pads, patches, scale)

_FIELD = "train_config.data_augmentation_options"
# ResizeImage.Method enum of preprocessor.proto: AREA=1, BICUBIC=2, BILINEAR=3, NEAREST_NEIGHBOR=4.
_RESIZE_IMAGE_METHODS = {1: "area", 2: "bicubic", 3: "bilinear", 4: "nearest"}


def _op(fn, **values):
  return functools.partial(fn, **values)


def _simple(name, fn, **fields):
  """Registers a step whose fields map one-to-one to the op's arguments ({arg: field})."""
  @AUGMENTATIONS.register(name)
  def adapter(msg, problems, path):
    del problems, path
    return _op(fn, **{arg: getattr(msg, field) for arg, field in fields.items()})
  return adapter


_simple("random_horizontal_flip", flips.random_horizontal_flip, probability="probability")
_simple("random_vertical_flip", flips.random_vertical_flip, probability="probability")
_simple("random_rotation90", flips.random_rotation90, probability="probability")
_simple("random_adjust_brightness", color.random_adjust_brightness, max_delta="max_delta")
_simple("random_adjust_contrast", color.random_adjust_contrast, min_delta="min_delta",
        max_delta="max_delta")
_simple("random_adjust_hue", color.random_adjust_hue, max_delta="max_delta")
_simple("random_adjust_saturation", color.random_adjust_saturation, min_delta="min_delta",
        max_delta="max_delta")
_simple("random_rgb_to_gray", color.random_rgb_to_gray, probability="probability")
_simple("random_pixel_value_scale", color.random_pixel_value_scale, minval="minval",
        maxval="maxval")
_simple("random_square_crop_by_scale", crops.random_square_crop_by_scale,
        max_border="max_border", scale_min="scale_min", scale_max="scale_max",
        num_scales="num_scales")
_simple("random_scale_crop_and_pad_to_square", crops.random_scale_crop_and_pad_to_square,
        output_size="output_size", scale_min="scale_min", scale_max="scale_max")
_simple("drop_label_probabilistically", labels.drop_label_probabilistically, label="label",
        drop_probability="drop_probability")
_simple("adjust_gamma", patches.adjust_gamma, gamma="gamma", gain="gain")
_simple("random_image_scale", scale.random_image_scale, min_scale_ratio="min_scale_ratio",
        max_scale_ratio="max_scale_ratio")


@AUGMENTATIONS.register("rgb_to_gray")
def _rgb_to_gray(msg, problems, path):
  del msg, problems, path
  return patches.rgb_to_gray


@AUGMENTATIONS.register("random_distort_color")
def _distort_color(msg, problems, path):
  if msg.color_ordering not in (0, 1):
    problems.add(f"{path}.color_ordering", f"must be 0 or 1 (got {msg.color_ordering})")
  return _op(color.random_distort_color, color_ordering=int(msg.color_ordering))


def _crop_values(msg):
  return dict(min_object_covered=msg.min_object_covered,
              aspect_ratio_range=(msg.min_aspect_ratio, msg.max_aspect_ratio),
              area_range=(msg.min_area, msg.max_area), overlap_thresh=msg.overlap_thresh,
              clip_boxes=msg.clip_boxes, random_coef=msg.random_coef)


@AUGMENTATIONS.register("random_crop_image")
def _crop_image(msg, problems, path):
  del problems, path
  return _op(crops.random_crop_image, **_crop_values(msg))


@AUGMENTATIONS.register("random_crop_to_aspect_ratio")
def _crop_to_aspect_ratio(msg, problems, path):
  if msg.aspect_ratio <= 0:
    problems.add(f"{path}.aspect_ratio", f"must be positive (got {_g(msg.aspect_ratio)}; "
                 "expected > 0)")
  return _op(crop_pad.random_crop_to_aspect_ratio, aspect_ratio=msg.aspect_ratio,
             overlap_thresh=msg.overlap_thresh, clip_boxes=msg.clip_boxes)


def _pad_color(msg, problems, path):
  pad_color = tuple(msg.pad_color) or None
  if pad_color is not None and len(pad_color) != 3:
    problems.add(f"{path}.pad_color", f"needs 3 values (got {len(pad_color)}; expected 3, one "
                 "per RGB channel)")
  return pad_color


@AUGMENTATIONS.register("random_crop_pad_image")
def _crop_pad_image(msg, problems, path):
  def pair(name, default):
    values = tuple(getattr(msg, name)) or default
    if len(values) != 2:
      problems.add(f"{path}.{name}", f"needs 2 values (height, width) (got {len(values)}; "
                   "expected 2)")
    return values
  return _op(crop_pad.random_crop_pad_image, **_crop_values(msg),
             min_padded_size_ratio=pair("min_padded_size_ratio", (1.0, 1.0)),
             max_padded_size_ratio=pair("max_padded_size_ratio", (2.0, 2.0)),
             pad_color=_pad_color(msg, problems, path))


@AUGMENTATIONS.register("random_absolute_pad_image")
def _absolute_pad_image(msg, problems, path):
  if msg.max_height_padding < 0 or msg.max_width_padding < 0:
    problems.add(path, "max_height_padding and max_width_padding must be >= 0 (got "
                 f"{msg.max_height_padding}, {msg.max_width_padding})")
  return _op(pads.random_absolute_pad_image, max_height_padding=msg.max_height_padding,
             max_width_padding=msg.max_width_padding, pad_color=_pad_color(msg, problems, path))


@AUGMENTATIONS.register("random_pad_image")
def _pad_image(msg, problems, path):
  def pair(a, b):
    if msg.HasField(a) != msg.HasField(b):
      problems.add(path, f"{a} and {b} must be set together (got {a}={getattr(msg, a)}, "
                   f"{b}={getattr(msg, b)})")
    return (getattr(msg, a), getattr(msg, b)) if msg.HasField(a) else None
  return _op(pads.random_pad_image, min_image_size=pair("min_image_height", "min_image_width"),
             max_image_size=pair("max_image_height", "max_image_width"),
             pad_color=_pad_color(msg, problems, path))


@AUGMENTATIONS.register("random_jitter_boxes")
def _jitter_boxes(msg, problems, path):
  del problems, path
  enum_type = msg.DESCRIPTOR.fields_by_name["jitter_mode"].enum_type
  return _op(jitter.random_jitter_boxes, ratio=msg.ratio,
             jitter_mode=enum_type.values_by_number[msg.jitter_mode].name.lower())


@AUGMENTATIONS.register("remap_labels")
def _remap_labels(msg, problems, path):
  del problems, path
  return _op(labels.remap_labels, original_labels=tuple(msg.original_labels),
             new_label=msg.new_label)


@AUGMENTATIONS.register("random_black_patches")
def _black_patches(msg, problems, path):
  if not 0.0 < msg.size_to_image_ratio < 1.0:
    problems.add(f"{path}.size_to_image_ratio", "out of range (got "
                 f"{_g(msg.size_to_image_ratio)}; expected in (0, 1))")
  return _op(patches.random_black_patches, max_black_patches=msg.max_black_patches,
             probability=msg.probability, size_to_image_ratio=msg.size_to_image_ratio)


@AUGMENTATIONS.register("random_jpeg_quality")
def _jpeg_quality(msg, problems, path):
  low, high = msg.min_jpeg_quality, msg.max_jpeg_quality
  if not 0 <= low <= high <= 100:
    problems.add(path, "need 0 <= min_jpeg_quality <= max_jpeg_quality <= 100 (got "
                 f"{low}, {high})")
  return _op(patches.random_jpeg_quality, random_coef=msg.random_coef, min_jpeg_quality=low,
             max_jpeg_quality=high)


@AUGMENTATIONS.register("resize_image")
def _resize_image(msg, problems, path):
  if msg.new_height <= 0 or msg.new_width <= 0:
    problems.add(path, "new_height and new_width must be > 0 (got "
                 f"{msg.new_height}, {msg.new_width})")
  method = _RESIZE_IMAGE_METHODS.get(int(msg.method))
  if method is None:
    problems.add(f"{path}.method", f"unknown value (got {int(msg.method)}; expected AREA, "
                 "BICUBIC, BILINEAR or NEAREST_NEIGHBOR)")
  return _op(scale.resize_image, new_height=msg.new_height, new_width=msg.new_width,
             method=method or "bilinear")


@AUGMENTATIONS.register("random_resize_method")
def _random_resize_method(msg, problems, path):
  if msg.target_height <= 0 or msg.target_width <= 0:
    problems.add(path, "target_height and target_width must be > 0 (got "
                 f"{msg.target_height}, {msg.target_width})")
  return _op(scale.random_resize_method, target_height=msg.target_height,
             target_width=msg.target_width)


def translate(step, problems, path=_FIELD):
  """Checks one PreprocessingStep; returns its `fn(tensor_dict, seed)` (None when unusable)."""
  name = step.WhichOneof("preprocessing_step")
  if name is None:
    problems.add(path, "empty PreprocessingStep (expected one of: "
                 f"{', '.join(AUGMENTATIONS.names())})")
    return None
  if name not in AUGMENTATIONS:
    problems.add(path, f"preprocessing step {name!r} is not supported by this package (got "
                 f"{name}; expected one of: {', '.join(AUGMENTATIONS.names())})")
    return None
  return AUGMENTATIONS.get(name)(getattr(step, name), problems, f"{path}.{name}")


def build(step, field_path=_FIELD):
  """Returns `fn(tensor_dict, seed) -> tensor_dict` for one PreprocessingStep.

  Raises:
    ConfigError: the step is empty, valid in the original's schema but not implemented here
      (the message names it and lists the supported steps), or has bad values.
  """
  problems = Problems()
  fn = translate(step, problems, field_path)
  problems.raise_if_any()
  return fn


def build_all(steps, field_path=_FIELD):
  """Returns one `fn(tensor_dict, seed)` applying every step in order (identity when empty)."""
  problems = Problems()
  ops = [translate(s, problems, f"{field_path}[{i}]") for i, s in enumerate(steps)]
  problems.raise_if_any()
  return augment.compose(ops)
