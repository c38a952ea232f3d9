"""Target assignment by hand: RPN, second stage, proposal sampling, mask targets."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.meta_architectures.faster_rcnn import targets
from object_detection.ops import matcher


def test_mask_target_for_a_proposal_half_outside_its_object():
  # Object fills columns 0..3 of an 8x8 image (x in [0, 0.5)); the proposal spans x 0.25..0.75,
  # so its left half lies on the object and its right half off it.
  masks = np.zeros([1, 1, 8, 8], np.uint8)
  masks[0, 0, :, :4] = 1
  boxes = tf.constant([[[0.0, 2 / 7, 1.0, 6 / 7]]])      # columns 2..6 in align-corners coords
  fn = lambda m, i, b: targets.mask_targets(m, i, b, (2, 5))
  for f in (fn, tf.function(fn)):
    out = f(tf.constant(masks), tf.constant([[0]]), boxes).numpy()
    np.testing.assert_allclose(out[0, 0], [[1, 1, 0, 0, 0]] * 2, atol=1e-6)


def test_mask_target_bilinear_edge_and_outside():
  masks = np.zeros([1, 2, 4, 4], np.uint8)
  masks[0, 1, :, :2] = 1
  # Second GT mask; samples at columns 1.5 (half) and beyond the image (-> 0).
  boxes = tf.constant([[[0.0, 0.5, 1.0, 0.5], [0.0, 1.0, 1.0, 2.0]]])
  out = targets.mask_targets(tf.constant(masks), tf.constant([[1, 1]]), boxes, (1, 1)).numpy()
  np.testing.assert_allclose(out[0, :, 0, 0], [0.5, 0.0], atol=1e-6)


def test_rpn_targets():
  anchors = tf.constant([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.45, 0.5], [0.5, 0.5, 1.0, 1.0],
                         [0.0, 0.3, 0.5, 0.8]])
  gt = tf.constant([[[0.0, 0.0, 0.5, 0.5]]])
  t = targets.rpn_targets(anchors, gt, tf.constant([[2.0]]))
  # IoUs 1, 0.9, 0, 0.2/0.8=0.25 -> pos, pos, neg, neg.
  np.testing.assert_array_equal(t["matches"].numpy(), [[0, 0, -1, -1]])
  np.testing.assert_array_equal(t["objectness"].numpy(), [[1, 1, 0, 0]])
  np.testing.assert_array_equal(t["cls_weights"].numpy(), [[2, 2, 1, 1]])
  np.testing.assert_array_equal(t["reg_weights"].numpy(), [[2, 2, 0, 0]])
  np.testing.assert_allclose(t["reg_targets"].numpy()[0, 0], 0.0, atol=1e-5)
  assert t["reg_targets"].numpy()[0, 1, 2] > 0   # GT is taller than anchor 1


def test_rpn_targets_zero_ground_truth():
  t = targets.rpn_targets(tf.constant([[0.0, 0.0, 0.5, 0.5]]), tf.zeros([1, 2, 4]),
                          tf.zeros([1, 2]))
  np.testing.assert_array_equal(t["matches"].numpy(), [[matcher.UNMATCHED]])
  np.testing.assert_array_equal(t["cls_weights"].numpy(), [[1.0]])


def test_detection_targets_background_column():
  proposals = tf.constant([[[0.0, 0.0, 0.5, 0.5], [0.6, 0.6, 1.0, 1.0]]])
  t = targets.detection_targets(proposals, tf.constant([[[0.0, 0.0, 0.5, 0.5]]]),
                                tf.constant([[[0.0, 1.0]]]), tf.constant([[1.0]]))
  np.testing.assert_array_equal(t["class_targets"].numpy(), [[[0, 0, 1], [1, 0, 0]]])


def test_sample_proposals_static_shape():
  proposals = tf.constant([[[0.0, 0.0, 0.5, 0.5], [0.6, 0.6, 1.0, 1.0], [0.0, 0.0, 0.4, 0.5],
                            [0, 0, 0, 0]]])
  valid = tf.constant([[True, True, True, False]])
  boxes, num = targets.sample_proposals(
      proposals, valid, tf.constant([[[0.0, 0.0, 0.5, 0.5]]]), tf.constant([[[1.0]]]),
      tf.constant([[1.0]]), batch_size=6, positive_fraction=0.5, seed=1)
  assert boxes.shape == (1, 6, 4)
  assert num.numpy()[0] == 3
  np.testing.assert_array_equal(boxes.numpy()[0, 3:], 0.0)


def test_allowed_class_weights():
  onehot = tf.constant([[1.0, 0, 0], [0, 0, 1], [0, 0, 0]])
  np.testing.assert_array_equal(targets.allowed_class_weights(onehot, [3]).numpy(), [0, 1, 0])
  np.testing.assert_array_equal(targets.allowed_class_weights(onehot, []).numpy(), [1, 1, 0])
  with pytest.raises(ValueError, match="out of range"):
    targets.allowed_class_weights(onehot, [4])
