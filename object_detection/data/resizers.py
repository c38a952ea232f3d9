"""Image resizers: one image (and its instance masks) -> the model's input resolution.

Every resizer returned by this module (and by `builders.image_resizer_builder.build`) has the
signature

    fn(image, masks=None) -> (resized_image, resized_masks_or_None, true_image_shape)

  image: [H, W, C] float32 (raw pixel values; any range).
  masks: [N, H, W] uint8 {0, 1} (or any dtype `tf.image.resize` accepts), or None.
  resized_image: [H', W', C'] float32. When the resizer pads (keep_aspect_ratio_resizer with
    `pad_to_max_dimension`), the image content is at the top-left and the padding bottom/right.
  resized_masks: [N, H', W'] same dtype as `masks`, resized nearest-neighbour and zero padded
    exactly like the image; None when `masks` is None.
  true_image_shape: [3] int32, (height, width, channels) of the resized content before padding.

Interpolation follows the original's TF1 `tf.image.resize_images(align_corners=False)`, i.e.
`half_pixel_centers=False` ("legacy" sampling), so resized pixels match models trained with the
original. Masks are always resized nearest-neighbour so they stay binary.

`builders/image_resizer_builder.py` turns an `ImageResizer` message into one of these.
"""

import numpy as np
import tensorflow as tf



def legacy_resize(images, size, method="bilinear"):
  """Resizes like TF1's `tf.image.resize_images(align_corners=False)` (no half-pixel centres).

  Args:
    images: [H, W, C] or [B, H, W, C] tensor.
    size: [2] int32 (new_height, new_width), Python ints or a tensor.
    method: "bilinear", "nearest", "bicubic" or "area".
  Returns:
    Tensor of the same rank; float32 for bilinear/bicubic/area, the input dtype for nearest.
  """
  if method not in ("bilinear", "nearest", "bicubic", "area"):
    raise ValueError(f"legacy_resize: unknown method {method!r} "
                     "(expected one of: bilinear, nearest, bicubic, area)")
  squeeze = images.shape.rank == 3
  x = images[None] if squeeze else images
  size = tf.cast(size, tf.int32)
  if method == "nearest":
    out = tf.raw_ops.ResizeNearestNeighbor(
        images=x, size=size, align_corners=False, half_pixel_centers=False)
  elif method == "bilinear":
    out = tf.raw_ops.ResizeBilinear(
        images=tf.cast(x, tf.float32), size=size, align_corners=False, half_pixel_centers=False)
  elif method == "bicubic":
    out = tf.raw_ops.ResizeBicubic(
        images=tf.cast(x, tf.float32), size=size, align_corners=False, half_pixel_centers=False)
  else:
    out = tf.raw_ops.ResizeArea(images=tf.cast(x, tf.float32), size=size, align_corners=False)
  return out[0] if squeeze else out


def resize_masks(masks, size):
  """Nearest-neighbour resize of instance masks.

  Args:
    masks: [N, H, W] tensor (uint8 {0,1} in the pipeline). N may be 0.
    size: [2] int32 (new_height, new_width).
  Returns:
    [N, new_height, new_width] tensor of the same dtype.
  """
  dtype = masks.dtype
  x = masks
  if dtype == tf.bool:
    x = tf.cast(x, tf.uint8)
  out = legacy_resize(x[:, :, :, None], size, "nearest")[:, :, :, 0]
  return tf.cast(out, dtype) if dtype == tf.bool else out


def compute_resize_to_range_size(height, width, min_dimension, max_dimension=None):
  """The original's `resize_to_range` output size (as a tensor computation).

  Scales so the short side equals `min_dimension`; if the long side would then exceed
  `max_dimension`, scales so the long side equals `max_dimension` instead. Sizes are rounded.

  Args:
    height, width: [] int32 tensors (or ints), the input size.
    min_dimension: int. max_dimension: int or None/0 (no upper bound).
  Returns:
    [2] int32 (new_height, new_width).
  """
  if isinstance(height, int) and isinstance(width, int):
    return tf.constant(_static_resize_to_range_size(height, width, min_dimension, max_dimension))
  h = tf.cast(height, tf.float32)
  w = tf.cast(width, tf.float32)
  large_scale = float(min_dimension) / tf.minimum(h, w)
  large = tf.cast(tf.round(tf.stack([h * large_scale, w * large_scale])), tf.int32)
  if not max_dimension:
    return large
  small_scale = float(max_dimension) / tf.maximum(h, w)
  small = tf.cast(tf.round(tf.stack([h * small_scale, w * small_scale])), tf.int32)
  return tf.where(tf.cast(tf.reduce_max(large), tf.float32) > float(max_dimension), small, large)


def _static_resize_to_range_size(height, width, min_dimension, max_dimension):
  """Same as `compute_resize_to_range_size` in float32 NumPy, for statically known sizes."""
  h, w = np.float32(height), np.float32(width)
  large_scale = np.float32(min_dimension) / min(h, w)
  large = [int(np.round(h * large_scale)), int(np.round(w * large_scale))]
  if not max_dimension or max(large) <= max_dimension:
    return large
  small_scale = np.float32(max_dimension) / max(h, w)
  return [int(np.round(h * small_scale)), int(np.round(w * small_scale))]


def _pad_bottom_right(image, height, width, per_channel_pad_value):
  """Pads [h, w, C] to [height, width, C]; channel c gets `per_channel_pad_value[c]`."""
  size = tf.shape(image)
  paddings = [[0, height - size[0]], [0, width - size[1]], [0, 0]]
  values = tf.constant(per_channel_pad_value, tf.float32)
  if all(v == per_channel_pad_value[0] for v in per_channel_pad_value):
    return tf.pad(image, paddings, constant_values=per_channel_pad_value[0])
  # Pad with 0, then add the per-channel value where the padding is.
  padded = tf.pad(image, paddings)
  inside = tf.pad(tf.ones(size[:2], tf.float32), paddings[:2])[:, :, None]
  return padded + (1.0 - inside) * values


def _pad_masks(masks, height, width):
  size = tf.shape(masks)
  return tf.pad(masks, [[0, 0], [0, height - size[1]], [0, width - size[2]]])


def resize_to_range(image, masks=None, min_dimension=600, max_dimension=1024,
                    method="bilinear", pad_to_max_dimension=False,
                    per_channel_pad_value=(0.0, 0.0, 0.0)):
  """keep_aspect_ratio_resizer: aspect-preserving resize into [min_dimension, max_dimension].

  Args:
    image: [H, W, C] float32.
    masks: [N, H, W] or None.
    min_dimension, max_dimension: ints (see `compute_resize_to_range_size`).
    method: image interpolation ("bilinear", "nearest", "bicubic", "area").
    pad_to_max_dimension: pad bottom/right to a static [max_dimension, max_dimension].
    per_channel_pad_value: C floats used as the image padding (masks pad with 0).
  Returns:
    (image [H', W', C] float32, masks [N, H', W'] or None, true_image_shape [3] int32).
  """
  if image.shape.rank != 3:
    raise ValueError(f"resize_to_range: image must be [H, W, C] (got shape {image.shape})")
  shape = tf.shape(image)
  static_hw = image.shape[:2]
  if static_hw.is_fully_defined():  # static sizes: a constant output size (XLA friendly)
    new_size = compute_resize_to_range_size(int(static_hw[0]), int(static_hw[1]),
                                            min_dimension, max_dimension)
  else:
    new_size = compute_resize_to_range_size(shape[0], shape[1], min_dimension, max_dimension)
  new_image = tf.cast(legacy_resize(image, new_size, method), tf.float32)
  channels = image.shape[-1]
  static_size = tf.get_static_value(new_size)
  if static_size is not None:
    new_image.set_shape([int(static_size[0]), int(static_size[1]), channels])
  if pad_to_max_dimension:
    if channels is not None and len(per_channel_pad_value) != channels:
      raise ValueError(
          "resize_to_range: per_channel_pad_value needs one value per channel "
          f"(got {len(per_channel_pad_value)} values; expected {channels})")
    new_image = _pad_bottom_right(new_image, max_dimension, max_dimension,
                                  tuple(float(v) for v in per_channel_pad_value))
    new_image.set_shape([max_dimension, max_dimension, channels])
  new_masks = None
  if masks is not None:
    new_masks = resize_masks(masks, new_size)
    if pad_to_max_dimension:
      new_masks = _pad_masks(new_masks, max_dimension, max_dimension)
      new_masks.set_shape([None, max_dimension, max_dimension])
  true_shape = tf.concat([new_size, shape[2:3]], axis=0)
  return new_image, new_masks, true_shape


def resize_image(image, masks=None, new_height=300, new_width=300, method="bilinear"):
  """fixed_shape_resizer: resizes to exactly [new_height, new_width] (aspect not kept).

  Returns:
    (image [new_height, new_width, C] float32, masks [N, new_height, new_width] or None,
     true_image_shape [3] int32 = (new_height, new_width, C)).
  """
  new_image = tf.cast(legacy_resize(image, [new_height, new_width], method), tf.float32)
  new_image.set_shape([new_height, new_width, image.shape[-1]])
  new_masks = None
  if masks is not None:
    new_masks = resize_masks(masks, [new_height, new_width])
    new_masks.set_shape([None, new_height, new_width])
  true_shape = tf.stack([new_height, new_width, tf.shape(image)[2]])
  return new_image, new_masks, tf.cast(true_shape, tf.int32)


def identity_resize(image, masks=None):
  """identity_resizer: returns the inputs unchanged with their true shape."""
  return tf.cast(image, tf.float32), masks, tf.shape(image, out_type=tf.int32)


def pad_to_multiple(image, masks=None, multiple=1):
  """pad_to_multiple_resizer: pads bottom/right so H and W are multiples of `multiple`.

  The true image shape is the unpadded input shape (no resizing happens).
  """
  shape = tf.shape(image)
  target = (shape[:2] + multiple - 1) // multiple * multiple
  new_image = _pad_bottom_right(tf.cast(image, tf.float32), target[0], target[1],
                                (0.0,) * (image.shape[-1] or 1))
  new_masks = None if masks is None else _pad_masks(masks, target[0], target[1])
  return new_image, new_masks, shape


def conditional_shape_resize(image, masks=None, condition="GREATER", size_threshold=300,
                             method="bilinear"):
  """conditional_shape_resizer: aspect-preserving resize only when a condition holds.

  GREATER: if max(H, W) > size_threshold, the long side becomes size_threshold.
  SMALLER: if min(H, W) < size_threshold, the short side becomes size_threshold.
  Otherwise the image is unchanged.
  """
  shape = tf.shape(image)
  h = tf.cast(shape[0], tf.float32)
  w = tf.cast(shape[1], tf.float32)
  if condition == "GREATER":
    ref = tf.maximum(h, w)
    apply = ref > float(size_threshold)
  elif condition == "SMALLER":
    ref = tf.minimum(h, w)
    apply = ref < float(size_threshold)
  else:
    raise ValueError(f"conditional_shape_resize: unknown condition {condition!r} "
                     "(expected GREATER or SMALLER)")
  scale = tf.where(apply, float(size_threshold) / ref, 1.0)
  new_size = tf.cast(tf.round(tf.stack([h * scale, w * scale])), tf.int32)
  new_image = tf.cast(legacy_resize(image, new_size, method), tf.float32)
  new_masks = None if masks is None else resize_masks(masks, new_size)
  return new_image, new_masks, tf.concat([new_size, shape[2:3]], axis=0)


def with_grayscale(resizer_fn):
  """Wraps a resizer so its image is converted to 1-channel grayscale (convert_to_grayscale)."""
  def fn(image, masks=None):
    new_image, new_masks, true_shape = resizer_fn(image, masks)
    gray = tf.image.rgb_to_grayscale(new_image)
    return gray, new_masks, tf.concat([true_shape[:2], [1]], axis=0)
  return fn


def resize_batch(resizer_fn, images):
  """Applies a per-image resizer to a batch (used by `model.preprocess`).

  Args:
    resizer_fn: a resizer of this module's signature. It must produce the same output size for
      every image of the batch (e.g. pad_to_max_dimension or fixed_shape_resizer).
    images: [B, H, W, C] float32.
  Returns:
    (resized [B, H', W', C'] float32, true_image_shapes [B, 3] int32).
  """
  def one(image):
    resized, _, true_shape = resizer_fn(image)
    return resized, true_shape

  resized, shapes = tf.map_fn(
      one, images,
      fn_output_signature=(tf.TensorSpec(None, tf.float32), tf.TensorSpec([3], tf.int32)))
  probe = resizer_fn(tf.zeros([8, 8, images.shape[-1] or 3], tf.float32))[0].shape
  if probe.is_fully_defined():
    resized.set_shape([images.shape[0]] + probe.as_list())
  return resized, shapes
