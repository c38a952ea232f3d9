"""Resizing ops on the whole example (normalized boxes are unchanged by a resize)."""

import tensorflow as tf

from object_detection.data.augment.common import IMAGE, MASKS, randint, uniform
from object_detection.data.resizers import legacy_resize, resize_masks


def random_image_scale(tensor_dict, seed, min_scale_ratio=0.5, max_scale_ratio=2.0):
  """Scales H and W by one factor ~ U[min, max) (sizes truncated to ints).

  As the original, the resize uses align_corners=True (bilinear for the image, nearest for the
  masks). Normalized boxes do not change.
  """
  image = tensor_dict[IMAGE]
  shape = tf.shape(image)
  ratio = uniform(seed, 0, minval=min_scale_ratio, maxval=max_scale_ratio)
  new_size = tf.cast(tf.cast(shape[:2], tf.float32) * ratio, tf.int32)
  out = dict(tensor_dict)
  out[IMAGE] = tf.raw_ops.ResizeBilinear(images=image[None], size=new_size, align_corners=True)[0]
  if MASKS in tensor_dict:
    out[MASKS] = tf.raw_ops.ResizeNearestNeighbor(
        images=tensor_dict[MASKS][:, :, :, None], size=new_size, align_corners=True)[:, :, :, 0]
  return out


def resize_image(tensor_dict, seed=None, new_height=256, new_width=256, method="bilinear"):
  """Deterministic resize of image (with `method`) and masks (nearest) to a fixed size."""
  del seed
  out = dict(tensor_dict)
  out[IMAGE] = tf.cast(legacy_resize(tensor_dict[IMAGE], [new_height, new_width], method),
                       tf.float32)
  if MASKS in tensor_dict:
    out[MASKS] = resize_masks(tensor_dict[MASKS], [new_height, new_width])
  return out


def random_resize_method(tensor_dict, seed, target_height, target_width):
  """Resizes to the target size with a method drawn among bilinear, nearest, bicubic and area.

  Masks are resized nearest-neighbour too (the original left them alone, which broke examples
  with masks).
  """
  choice = randint(seed, 0, 0, 4)
  image = tensor_dict[IMAGE]
  size = [target_height, target_width]
  branches = [lambda m=m: tf.cast(legacy_resize(image, size, m), tf.float32)
              for m in ("bilinear", "nearest", "bicubic", "area")]
  out = dict(tensor_dict)
  out[IMAGE] = tf.switch_case(choice, branches)
  if MASKS in tensor_dict:
    out[MASKS] = resize_masks(tensor_dict[MASKS], size)
  return out
