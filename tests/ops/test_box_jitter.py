"""random_jitter_boxes: every jitter mode, hand-computed with pinned uniform draws."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.ops import box_jitter

BOX = np.array([[0.2, 0.2, 0.6, 0.4]], np.float32)      # centre (0.4, 0.3), size (0.4, 0.2)


@pytest.mark.parametrize("mode,draw,expected", [
    # default: factors 1 + (-0.5 + 1.0·u); u = 1 -> 1.5 on every edge.
    ("default", [1.0, 1.0, 1.0, 1.0], [0.4 - 0.3, 0.3 - 0.15, 0.4 + 0.3, 0.3 + 0.15]),
    ("default", [0.0, 0.5, 0.5, 0.5], [0.4 - 0.1, 0.2, 0.6, 0.4]),
    ("expand", [0.0, 0.0, 1.0, 0.0], [0.2, 0.2, 0.4 + 0.3, 0.4]),
    ("shrink", [0.0, 1.0, 1.0, 1.0], [0.4 - 0.1, 0.2, 0.6, 0.4]),
    # symmetric: one factor for height (u0) and one for width (u1).
    ("expand_symmetric", [1.0, 0.0, 0.3, 0.3], [0.1, 0.2, 0.7, 0.4]),
    ("shrink_symmetric", [0.0, 1.0, 0.3, 0.3], [0.3, 0.2, 0.5, 0.4]),
    # _xy: the height factor for both.
    ("expand_symmetric_xy", [1.0, 0.0, 0.3, 0.3], [0.1, 0.15, 0.7, 0.45]),
    ("shrink_symmetric_xy", [0.0, 1.0, 0.3, 0.3], [0.3, 0.25, 0.5, 0.35]),
])
def test_modes_hand_computed(mode, draw, expected):
  out = box_jitter.random_jitter_boxes(BOX, 0.5, mode, distortion=np.array([draw], np.float32))
  np.testing.assert_allclose(out.numpy()[0], expected, atol=1e-6)


def test_random_stays_in_range_and_clips_in_tf_function():
  boxes = tf.constant([[0.0, 0.0, 1.0, 1.0], [0.4, 0.4, 0.6, 0.6]])
  fn = tf.function(lambda b: box_jitter.random_jitter_boxes(b, 0.2, "expand", seed=[1, 2]))
  out = fn(boxes).numpy()
  assert out.min() >= 0.0 and out.max() <= 1.0
  np.testing.assert_allclose(out[0], [0.0, 0.0, 1.0, 1.0])
  assert out[1, 0] <= 0.4 and out[1, 2] >= 0.6 and out[1, 0] >= 0.38


def test_unknown_mode_lists_the_known_ones():
  with pytest.raises(ValueError, match="expand_symmetric_xy"):
    box_jitter.random_jitter_boxes(BOX, 0.1, "grow")


def test_zero_boxes():
  assert box_jitter.random_jitter_boxes(tf.zeros([0, 4]), 0.1).shape == (0, 4)
