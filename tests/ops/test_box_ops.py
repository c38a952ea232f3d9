"""Box geometry: hand-computed IoU, areas, frames; eager and inside tf.function."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.ops import box_ops


def _both(fn, *args):
  eager = fn(*args)
  graph = tf.function(fn)(*args)
  np.testing.assert_allclose(np.asarray(eager), np.asarray(graph), rtol=1e-6, atol=1e-6)
  return np.asarray(eager)


A = tf.constant([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]])
B = tf.constant([[0.0, 0.0, 2.0, 2.0], [2.0, 2.0, 4.0, 4.0], [5.0, 5.0, 5.0, 6.0]])


def test_area_and_intersection():
  np.testing.assert_allclose(_both(box_ops.area, B), [4.0, 4.0, 0.0])
  np.testing.assert_allclose(_both(box_ops.intersection, A, B), [[4, 0, 0], [1, 1, 0]])


def test_iou_hand_computed():
  # [1,1,3,3] vs [0,0,2,2]: inter 1, union 7.
  np.testing.assert_allclose(_both(box_ops.iou, A, B),
                             [[1.0, 0.0, 0.0], [1 / 7, 1 / 7, 0.0]], rtol=1e-6)


def test_iou_batched_and_empty():
  out = _both(box_ops.iou, A[None], tf.zeros([1, 0, 4]))
  assert out.shape == (1, 2, 0)
  zero = _both(box_ops.iou, tf.zeros([1, 4]), tf.zeros([1, 4]))
  np.testing.assert_array_equal(zero, [[0.0]])


def test_absolute_normalized_round_trip():
  boxes = tf.constant([[0.1, 0.2, 0.5, 1.0]])
  absolute = _both(lambda b: box_ops.to_absolute(b, 100, 50), boxes)
  np.testing.assert_allclose(absolute, [[10, 10, 50, 50]], rtol=1e-6)
  np.testing.assert_allclose(_both(lambda b: box_ops.to_normalized(b, 100, 50), absolute),
                             boxes.numpy(), rtol=1e-6)


def test_clip_and_change_frame():
  boxes = tf.constant([[[-0.2, 0.1, 0.9, 1.2]]])
  window = tf.constant([[0.0, 0.0, 0.5, 1.0]])
  np.testing.assert_allclose(_both(box_ops.clip_to_window, boxes, window),
                             [[[0.0, 0.1, 0.5, 1.0]]])
  np.testing.assert_allclose(_both(box_ops.change_coordinate_frame, boxes, window),
                             [[[-0.4, 0.1, 1.8, 1.2]]], rtol=1e-6)


def test_true_image_windows():
  out = _both(lambda s: box_ops.true_image_windows(s, 64, 32), tf.constant([[32, 32, 3]]))
  np.testing.assert_allclose(out, [[0.0, 0.0, 0.5, 1.0]])


def test_center_size_round_trip():
  yc, xc, h, w = box_ops.to_center_size(A)
  np.testing.assert_allclose(h.numpy(), [2, 2])
  np.testing.assert_allclose(box_ops.from_center_size(yc, xc, h, w).numpy(), A.numpy())


if __name__ == "__main__":
  pytest.main([__file__])
