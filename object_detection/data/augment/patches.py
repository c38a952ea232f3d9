"""Other image-only ops: gamma, grayscale, black patches, JPEG re-compression."""

import tensorflow as tf

from object_detection.data.augment.common import IMAGE, coin, map_rgb, randint, sub_seed, uniform


def adjust_gamma(tensor_dict, seed=None, gamma=1.0, gain=1.0):
  """Deterministic gamma correction: 255 * gain * (image / 255) ** gamma, clipped."""
  del seed

  def fn(rgb):
    return tf.clip_by_value(tf.image.adjust_gamma(rgb / 255.0, gamma, gain) * 255.0, 0.0, 255.0)
  return map_rgb(tensor_dict, fn)


def rgb_to_gray(tensor_dict, seed=None):
  """Deterministic: the image becomes [H, W, 1] luminance (as the original's RGBtoGray)."""
  del seed
  out = dict(tensor_dict)
  out[IMAGE] = tf.image.rgb_to_grayscale(tensor_dict[IMAGE][:, :, :3])
  return out


def random_black_patches(tensor_dict, seed, max_black_patches=10, probability=0.5,
                         size_to_image_ratio=0.1):
  """Up to `max_black_patches` square black patches (each with `probability`) of side
  size_to_image_ratio * min(H, W), top-left corner uniform in [0, 1 - ratio) of each axis."""
  image = tensor_dict[IMAGE]
  shape = tf.shape(image)
  hf, wf = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
  side = tf.cast(tf.minimum(hf, wf) * size_to_image_ratio, tf.int32)
  rows = tf.range(shape[0])[:, None]
  cols = tf.range(shape[1])[None, :]
  black = tf.zeros([shape[0], shape[1]], tf.bool)
  for i in range(max_black_patches):
    s = sub_seed(seed, i)
    y = tf.cast(uniform(s, 0, maxval=1.0 - size_to_image_ratio) * hf, tf.int32)
    x = tf.cast(uniform(s, 1, maxval=1.0 - size_to_image_ratio) * wf, tf.int32)
    patch = (rows >= y) & (rows < y + side) & (cols >= x) & (cols < x + side)
    black = tf.logical_or(black, tf.logical_and(patch, coin(s, 2, probability)))
  out = dict(tensor_dict)
  out[IMAGE] = tf.where(black[:, :, None], tf.zeros_like(image), image)
  return out


def random_jpeg_quality(tensor_dict, seed, random_coef=0.0, min_jpeg_quality=0,
                        max_jpeg_quality=100):
  """JPEG re-encodes the image at a quality drawn in [min, max) unless U[0,1) <= random_coef."""
  image = tensor_dict[IMAGE]

  def encode():
    quality = randint(seed, 0, min_jpeg_quality, max(max_jpeg_quality, min_jpeg_quality + 1))
    as_uint8 = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    return tf.cast(tf.image.adjust_jpeg_quality(as_uint8, quality), tf.float32)
  out = dict(tensor_dict)
  out[IMAGE] = tf.cond(uniform(seed, 1) > random_coef, encode, lambda: image)
  out[IMAGE].set_shape(image.shape)
  return out
