"""random_pad_image: place the image at a random offset of a larger canvas."""

import tensorflow as tf

from object_detection.data.augment.common import (
    BOXES, IMAGE, MASKS, change_coordinate_frame, randint)


def random_pad_image(tensor_dict, seed, min_image_size=None, max_image_size=None, pad_color=None,
                     center_pad=False):
  """Pads the image to a random size in [min_image_size, max_image_size] at a random offset.

  Args:
    tensor_dict, seed: see augment/common.py.
    min_image_size: (height, width) ints or [2] int32 tensor, or None (= the image size); never
      below the image size.
    max_image_size: (height, width) or None (= twice the image size). Sizes are drawn in
      [min, max) (the original's `_random_integer`).
    pad_color: C floats, or None for the image's per-channel mean (the original's default).
    center_pad: put the image in the middle instead of at a random offset.
  Returns:
    dict with image [H', W', C] (padding = pad_color), masks [N, H', W'] (padding = 0), boxes
    re-framed to the padded image.
  """
  image = tensor_dict[IMAGE]
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  hw = tf.stack([height, width])
  max_size = hw * 2 if max_image_size is None else tf.cast(max_image_size, tf.int32)
  max_size = tf.maximum(max_size, hw)
  min_size = hw if min_image_size is None else tf.cast(min_image_size, tf.int32)
  min_size = tf.maximum(min_size, hw)

  def draw(lo, hi, salt):
    return tf.cond(hi > lo, lambda: randint(seed, salt, lo, tf.maximum(hi, lo + 1)), lambda: hi)

  target_h = draw(min_size[0], max_size[0], 0)
  target_w = draw(min_size[1], max_size[1], 1)
  if center_pad:
    offset_y = (target_h - height) // 2
    offset_x = (target_w - width) // 2
  else:
    offset_y = draw(0, target_h - height, 2)
    offset_x = draw(0, target_w - width, 3)
    # No room to move (n == 0): draw returns 0, as the original.
  if pad_color is None:
    color = tf.reduce_mean(image, axis=[0, 1])
  else:
    color = tf.constant(pad_color, tf.float32)
  canvas = tf.image.pad_to_bounding_box(image, offset_y, offset_x, target_h, target_w)
  inside = tf.image.pad_to_bounding_box(tf.ones_like(image[:, :, :1]), offset_y, offset_x,
                                        target_h, target_w)
  out = dict(tensor_dict)
  out[IMAGE] = canvas + (1.0 - inside) * color
  if MASKS in tensor_dict:
    masks = tensor_dict[MASKS]
    out[MASKS] = tf.pad(masks, [[0, 0], [offset_y, target_h - height - offset_y],
                                [offset_x, target_w - width - offset_x]])
  if BOXES in tensor_dict:
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    window = tf.stack([-tf.cast(offset_y, tf.float32) / h, -tf.cast(offset_x, tf.float32) / w,
                       tf.cast(target_h - offset_y, tf.float32) / h,
                       tf.cast(target_w - offset_x, tf.float32) / w])
    out[BOXES] = change_coordinate_frame(tensor_dict[BOXES], window)
  return out


def random_absolute_pad_image(tensor_dict, seed, max_height_padding, max_width_padding,
                              pad_color=None):
  """Pads by a random number of pixels in [0, max_*_padding) per axis (random_pad_image with
  min = the image size, max = the image size + max padding)."""
  hw = tf.shape(tensor_dict[IMAGE])[:2]
  max_size = hw + tf.constant([max_height_padding, max_width_padding], tf.int32)
  return random_pad_image(tensor_dict, seed, hw, max_size, pad_color)
