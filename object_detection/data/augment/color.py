"""Photometric augmentations (image only; boxes and masks untouched).

As the original: the adjustment runs on image / 255, the result is multiplied back by 255 and
clipped to [0, 255]; only the first 3 (RGB) channels are changed.
"""

import tensorflow as tf

from object_detection.data.augment.common import IMAGE, coin, map_rgb, uniform


def _on_unit_range(tensor_dict, adjust):
  def fn(rgb):
    return tf.clip_by_value(adjust(rgb / 255.0) * 255.0, 0.0, 255.0)
  return map_rgb(tensor_dict, fn)


def random_adjust_brightness(tensor_dict, seed, max_delta=0.2):
  """Adds delta ~ U[-max_delta, max_delta) to image/255."""
  delta = uniform(seed, 0, minval=-max_delta, maxval=max_delta)
  return _on_unit_range(tensor_dict, lambda im: tf.image.adjust_brightness(im, delta))


def random_adjust_contrast(tensor_dict, seed, min_delta=0.8, max_delta=1.25):
  """Scales contrast around the per-channel mean by factor ~ U[min_delta, max_delta)."""
  factor = uniform(seed, 0, minval=min_delta, maxval=max_delta)
  return _on_unit_range(tensor_dict, lambda im: tf.image.adjust_contrast(im, factor))


def random_adjust_hue(tensor_dict, seed, max_delta=0.02):
  """Rotates hue by delta ~ U[-max_delta, max_delta) (fraction of the hue circle)."""
  delta = uniform(seed, 0, minval=-max_delta, maxval=max_delta)
  return _on_unit_range(tensor_dict, lambda im: tf.image.adjust_hue(im, delta))


def random_adjust_saturation(tensor_dict, seed, min_delta=0.8, max_delta=1.25):
  """Scales saturation by factor ~ U[min_delta, max_delta)."""
  factor = uniform(seed, 0, minval=min_delta, maxval=max_delta)
  return _on_unit_range(tensor_dict, lambda im: tf.image.adjust_saturation(im, factor))


def random_distort_color(tensor_dict, seed, color_ordering=0):
  """The original's fixed sequences of the four adjustments (Inception-style distortions).

  color_ordering 0: brightness(32/255), saturation(0.5, 1.5), hue(0.2), contrast(0.5, 1.5);
  color_ordering 1: brightness(32/255), contrast(0.5, 1.5), saturation(0.5, 1.5), hue(0.2).
  """
  def brightness(d, s):
    return random_adjust_brightness(d, s, 32.0 / 255.0)

  def saturation(d, s):
    return random_adjust_saturation(d, s, 0.5, 1.5)

  def hue(d, s):
    return random_adjust_hue(d, s, 0.2)

  def contrast(d, s):
    return random_adjust_contrast(d, s, 0.5, 1.5)

  if color_ordering == 0:
    ops = (brightness, saturation, hue, contrast)
  elif color_ordering == 1:
    ops = (brightness, contrast, saturation, hue)
  else:
    raise ValueError(f"random_distort_color: color_ordering must be 0 or 1 (got {color_ordering})")
  out = tensor_dict
  for i, op in enumerate(ops):
    out = op(out, tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 100 + i))
  return out


def random_rgb_to_gray(tensor_dict, seed, probability=0.1):
  """With `probability`, replaces RGB by its luminance replicated on 3 channels."""
  do_it = coin(seed, 0, probability)

  def to_gray(rgb):
    return tf.cond(do_it, lambda: tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(rgb)),
                   lambda: rgb)
  return map_rgb(tensor_dict, to_gray)


def random_pixel_value_scale(tensor_dict, seed, minval=0.9, maxval=1.1):
  """Multiplies every pixel value by its own factor ~ U[minval, maxval), clipped to [0, 255]."""
  out = dict(tensor_dict)
  image = tensor_dict[IMAGE]
  coef = uniform(seed, 0, tf.shape(image), minval, maxval)
  out[IMAGE] = tf.clip_by_value(image * coef, 0.0, 255.0)
  return out
