"""RGB -> CIE L*a*b* (D65 white point), our own implementation (no tensorflow_io)."""

import tensorflow as tf

# sRGB (linear) -> XYZ, D65 (IEC 61966-2-1).
_RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423),
               (0.212671, 0.715160, 0.072169),
               (0.019334, 0.119193, 0.950227))
_D65_WHITE = (0.950456, 1.0, 1.088754)


def rgb_to_lab(images):
  """Converts sRGB in [0, 1] to L*a*b* (L in [0, 100], a/b roughly in [-128, 127]).

  The same formulas as tensorflow_io.experimental.color.rgb_to_lab (sRGB companding, D65 XYZ,
  CIE f(t) with the linear segment below (6/29)^3).

  Args:
    images: [..., 3] float32 RGB in [0, 1].
  Returns:
    [..., 3] float32 (L, a, b).
  """
  rgb = tf.convert_to_tensor(images, tf.float32)
  linear = tf.where(rgb > 0.04045, tf.pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4),
                    rgb / 12.92)
  xyz = tf.tensordot(linear, tf.constant(_RGB_TO_XYZ, tf.float32), axes=[[-1], [1]])
  xyz = xyz / tf.constant(_D65_WHITE, tf.float32)
  delta = 6.0 / 29.0
  f = tf.where(xyz > delta ** 3, tf.pow(tf.maximum(xyz, delta ** 3), 1.0 / 3.0),
               xyz / (3.0 * delta ** 2) + 4.0 / 29.0)
  fx, fy, fz = tf.unstack(f, axis=-1)
  return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)
