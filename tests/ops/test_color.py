"""rgb_to_lab against known CIE L*a*b* values (D65)."""

import numpy as np
import tensorflow as tf

from object_detection.ops import color


def test_reference_colours():
  rgb = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0],
                  [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]], np.float32)
  expected = np.array([[100.0, 0.0, 0.0], [0.0, 0.0, 0.0], [53.24, 80.09, 67.20],
                       [87.73, -86.18, 83.18], [32.30, 79.19, -107.86], [53.39, 0.0, 0.0]])
  np.testing.assert_allclose(color.rgb_to_lab(rgb).numpy(), expected, atol=0.05)


def test_image_shape_and_tf_function():
  images = tf.random.uniform([2, 4, 5, 3], seed=1)
  out = tf.function(color.rgb_to_lab)(images)
  assert out.shape == (2, 4, 5, 3)
  lightness = out[..., 0].numpy()
  assert lightness.min() >= 0.0 and lightness.max() <= 100.0
