"""Gaussian centre heatmaps: the original's radius rule (with its root quirk) and the targets."""

import math

import numpy as np
import pytest
import tensorflow as tf

from object_detection.ops import heatmaps


def test_gaussian_radius_hand_computed_10x10_box():
  # h = w = 10, iou 0.7. Case 1 (a=1): (20 + sqrt(400 - 4*100*0.3/1.7)) / 2 = 19.075;
  # case 2 (a=4): (40 + sqrt(1600 - 480)) / 2 = 36.733; case 3 (a=2.8, b=28, c=-30):
  # (-28 + sqrt(784 + 336)) / 2 = 2.7332 -> the minimum (the original divides by 2, not 2a).
  r = heatmaps.gaussian_radius(tf.constant([10.0]), tf.constant([10.0]), 0.7)
  np.testing.assert_allclose(r.numpy(), [(-28.0 + math.sqrt(1120.0)) / 2.0], rtol=1e-6)
  sigma = heatmaps.gaussian_sigma(tf.constant([10.0]), tf.constant([10.0]), 0.7)
  np.testing.assert_allclose(sigma.numpy(), [5.0 / 6.0], rtol=1e-6)  # floor(2.73) = 2


def test_sigma_of_tiny_box_is_one_sixth():
  # 1x1 cell box: case 3 root (-2.8 + sqrt(7.84 + 3.36)) / 2 = 0.273 -> floor 0 -> sigma 1/6.
  sigma = heatmaps.gaussian_sigma(tf.constant(1.0), tf.constant(1.0), 0.7)
  np.testing.assert_allclose(sigma.numpy(), 1.0 / 6.0, rtol=1e-6)


def _one_box_inputs():
  # 64x64 input, stride 4 -> 16x16 grid. Box cells [4, 4, 14, 14]: centre (9, 9), size 10.
  boxes = tf.constant([[[0.25, 0.25, 0.875, 0.875], [0.0, 0.0, 0.0, 0.0]]])
  classes = tf.constant([[[0.0, 1.0], [0.0, 0.0]]])  # second row is padding
  weights = tf.constant([[1.0, 0.0]])
  return boxes, classes, weights


def _expected_one_box():
  sigma2 = (5.0 / 6.0) ** 2
  ys, xs = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
  gauss = np.exp(-((ys - 9.0) ** 2 + (xs - 9.0) ** 2) / (2 * sigma2))
  expected = np.zeros([1, 16, 16, 2], np.float32)
  expected[0, :, :, 1] = gauss
  return expected


@pytest.mark.parametrize("graph", [False, True])
def test_one_box_on_16x16_grid(graph):
  fn = heatmaps.center_heatmap_targets
  if graph:
    fn = tf.function(fn, jit_compile=False)
  heatmap = fn(*_one_box_inputs(), 16, 16, 0.7).numpy()
  assert heatmap.shape == (1, 16, 16, 2)
  assert heatmap[0, 9, 9, 1] == 1.0
  np.testing.assert_allclose(heatmap[0, 9, 10, 1], math.exp(-0.72), rtol=1e-5)  # 1/(2*25/36)
  np.testing.assert_allclose(heatmap[0, 10, 10, 1], math.exp(-1.44), rtol=1e-5)
  np.testing.assert_allclose(heatmap, _expected_one_box(), atol=1e-6)
  assert not heatmap[..., 0].any()  # the other class and the padded box draw nothing


def test_per_class_max_and_instance_weight():
  boxes = tf.constant([[[0.0, 0.0, 0.25, 0.25], [0.0, 0.0, 0.375, 0.375],
                        [0.5, 0.5, 0.75, 0.75]]])
  classes = tf.constant([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
  weights = tf.constant([[1.0, 1.0, 0.5]])
  heatmap = heatmaps.center_heatmap_targets(boxes, classes, weights, 16, 16).numpy()
  # Boxes 1 and 2 (class 0) have centres (2, 2) and (3, 3): both peaks are 1.0 (max, not sum).
  assert heatmap[0, 2, 2, 0] == 1.0 and heatmap[0, 3, 3, 0] == 1.0
  # Box 3 (class 1) has weight 0.5: its peak at (10, 10) is 0.5.
  np.testing.assert_allclose(heatmap[0, 10, 10, 1], 0.5)
  assert heatmap[0, 10, 10, 0] < 1e-6


def test_zero_groundtruth_gives_zero_heatmap_under_xla():
  boxes = tf.zeros([2, 3, 4])
  classes = tf.zeros([2, 3, 4])
  weights = tf.zeros([2, 3])
  fn = tf.function(lambda b, c, w: heatmaps.center_heatmap_targets(b, c, w, 8, 8),
                   jit_compile=True)
  heatmap = fn(boxes, classes, weights).numpy()
  assert heatmap.shape == (2, 8, 8, 4)
  assert not heatmap.any()


def test_heatmap_in_tf_data():
  ds = tf.data.Dataset.from_tensors(_one_box_inputs()).map(
      lambda b, c, w: heatmaps.center_heatmap_targets(b, c, w, 16, 16))
  heatmap = next(iter(ds)).numpy()
  np.testing.assert_allclose(heatmap, _expected_one_box(), atol=1e-6)


def test_dynamic_batch_and_box_count():
  fn = tf.function(lambda b, c, w: heatmaps.center_heatmap_targets(b, c, w, 16, 16),
                   input_signature=[tf.TensorSpec([None, None, 4]),
                                    tf.TensorSpec([None, None, 2]), tf.TensorSpec([None, None])])
  heatmap = fn(*_one_box_inputs()).numpy()
  np.testing.assert_allclose(heatmap, _expected_one_box(), atol=1e-6)
