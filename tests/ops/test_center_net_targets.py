"""CenterNet size/offset targets, valid-region weights and the instance count."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.ops import center_net_targets


def _inputs():
  # 16x16 grid. Box 1 cells [4, 4, 14, 14]; box 2 cells y 1.6..4.8, x 3.2..8.0
  # (centre (3.2, 5.6), size (3.2, 4.8)); box 3 padding.
  boxes = tf.constant([[[0.25, 0.25, 0.875, 0.875], [0.1, 0.2, 0.3, 0.5], [0.0, 0.0, 0.0, 0.0]]])
  weights = tf.constant([[1.0, 1.0, 0.0]])
  return boxes, weights


@pytest.mark.parametrize("graph", [False, True])
def test_size_and_offset_targets(graph):
  fn = center_net_targets.box_size_and_offset_targets
  if graph:
    fn = tf.function(fn)
  indices, size, offset, weights = fn(*_inputs(), 16, 16)
  np.testing.assert_array_equal(indices.numpy(), [[[9, 9], [3, 5], [0, 0]]])
  np.testing.assert_allclose(size.numpy(), [[[10, 10], [3.2, 4.8], [0, 0]]], atol=1e-5)
  np.testing.assert_allclose(offset.numpy(), [[[0, 0], [0.2, 0.6], [0, 0]]], atol=1e-5)
  np.testing.assert_array_equal(weights.numpy(), [[1, 1, 0]])


def test_gather_at_indices():
  fmap = tf.reshape(tf.range(2 * 3 * 3 * 2, dtype=tf.float32), [2, 3, 3, 2])
  got = center_net_targets.gather_at_indices(fmap, tf.constant([[[1, 2]], [[0, 1]]]))
  np.testing.assert_array_equal(got.numpy(), [[[10, 11]], [[20, 21]]])


def test_valid_output_region_uses_ceil_of_true_shape():
  # True image 30x64 in a 64x64 input, stride 4 -> rows < ceil(7.5) = 8, all 16 columns.
  valid = center_net_targets.valid_output_region(tf.constant([[30, 64, 3], [64, 20, 3]]),
                                                 16, 16, 4).numpy()
  assert valid.shape == (2, 16, 16)
  assert valid[0, :8].all() and not valid[0, 8:].any()
  assert valid[1, :, :5].all() and not valid[1, :, 5:].any()  # ceil(20 / 4) = 5


def test_num_instances_counts_nonzero_weights_min_one():
  assert float(center_net_targets.num_instances(tf.constant([[1.0, 0.5, 0.0], [0, 0, 2]]))) == 3
  assert float(center_net_targets.num_instances(tf.zeros([2, 3]))) == 1.0
