"""Peak extraction (max-pool test + top-k over H*W*C) and box decoding."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.ops import peaks


def _two_peak_map():
  heatmap = np.zeros([1, 8, 8, 2], np.float32)
  heatmap[0, 2, 3, 0] = 0.9
  heatmap[0, 2, 4, 0] = 0.85  # neighbour of the 0.9 peak: suppressed by the 3x3 max-pool
  heatmap[0, 6, 6, 1] = 0.8
  return tf.constant(heatmap)


@pytest.mark.parametrize("graph", [False, True])
def test_two_peaks(graph):
  if graph:
    fn = tf.function(lambda h: peaks.top_k_peaks(h, 3, 3), jit_compile=True)
    scores, ys, xs, cs = fn(_two_peak_map())
  else:
    scores, ys, xs, cs = peaks.top_k_peaks(_two_peak_map(), 3, 3)
  np.testing.assert_allclose(scores.numpy()[0, :2], [0.9, 0.8])
  assert scores.numpy()[0, 2] == 0.0
  np.testing.assert_array_equal(ys.numpy()[0, :2], [2, 6])
  np.testing.assert_array_equal(xs.numpy()[0, :2], [3, 6])
  np.testing.assert_array_equal(cs.numpy()[0, :2], [0, 1])


def test_without_peak_test_neighbour_is_kept():
  scores, ys, xs, _ = peaks.top_k_peaks(_two_peak_map(), 2, max_pool_kernel_size=1)
  np.testing.assert_allclose(scores.numpy(), [[0.9, 0.85]])
  np.testing.assert_array_equal(xs.numpy(), [[3, 4]])


def test_k_larger_than_map_raises():
  with pytest.raises(ValueError, match="k larger than the heatmap"):
    peaks.top_k_peaks(tf.zeros([1, 2, 2, 1]), 5)


def test_decode_and_normalize_boxes():
  size = np.zeros([1, 8, 8, 2], np.float32)
  offset = np.zeros([1, 8, 8, 2], np.float32)
  size[0, 2, 3] = [2.0, 4.0]
  offset[0, 2, 3] = [0.5, 0.25]
  size[0, 7, 7] = [-3.0, 20.0]  # negative size clamps to 0; width clips to the grid
  boxes = peaks.decode_boxes(tf.constant([[2, 7]]), tf.constant([[3, 7]]),
                             tf.constant(size), tf.constant(offset))
  # centre (2.5, 3.25): y 1.5..3.5, x 1.25..5.25; centre (7, 7): y 7..7, x clipped 0..8.
  np.testing.assert_allclose(boxes.numpy(), [[[1.5, 1.25, 3.5, 5.25], [7, 0, 7, 8]]])
  # stride 4, true image 16 x 32 (the 32x32 input is padded at the bottom).
  normalized = peaks.strided_boxes_to_normalized(boxes, 4, tf.constant([[16, 32, 3]]))
  np.testing.assert_allclose(normalized.numpy(),
                             [[[6 / 16, 5 / 32, 14 / 16, 21 / 32], [1, 0, 1, 1]]], rtol=1e-6)
  padded = peaks.strided_boxes_to_padded_normalized(boxes, 8, 8)
  np.testing.assert_allclose(padded.numpy()[0, 0], [1.5 / 8, 1.25 / 8, 3.5 / 8, 5.25 / 8])
