"""Loss normalisation by hand (FEATURES §4) and zero ground truth."""

import numpy as np
import tensorflow as tf

from object_detection.meta_architectures.faster_rcnn import losses


def test_smooth_l1_by_hand():
  out = losses.smooth_l1(tf.constant([[0.5, 2.0, 0.0, -3.0]]), tf.zeros([1, 4])).numpy()
  np.testing.assert_allclose(out, [0.125 + 1.5 + 0.0 + 2.5])


def test_rpn_loss_normalised_by_sampled_count():
  anchors = tf.constant([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
  gt = tf.constant([[[0.0, 0.0, 0.5, 0.5]]])
  logits = tf.constant([[[0.0, 0.0], [0.0, 0.0]]])
  codes = tf.constant([[[1.0, 0.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0]]])
  loc, obj = losses.rpn_loss(codes, logits, anchors, gt, tf.constant([[1.0]]), 4, 0.5, seed=0)
  # Both anchors sampled (1 pos, 1 neg): objectness log(2) each / 2; loc 0.5 (pos only) / 2.
  np.testing.assert_allclose(obj.numpy(), np.log(2.0), rtol=1e-5)
  np.testing.assert_allclose(loc.numpy(), 0.25, rtol=1e-5)


def test_box_classifier_loss_normalisation():
  proposals = tf.constant([[[0.0, 0.0, 0.5, 0.5], [0.6, 0.6, 1.0, 1.0], [0, 0, 0, 0]]])
  gt = tf.constant([[[0.0, 0.0, 0.5, 0.5]]])
  classes = tf.constant([[[0.0, 1.0]]])
  codes = tf.zeros([1, 3, 2, 4]) + tf.constant([0.0, 1.0])[None, None, :, None]
  logits = tf.zeros([1, 3, 3])
  loc, cls, t = losses.box_classifier_loss(codes, logits, proposals, tf.constant([2]), gt,
                                           classes, tf.constant([[1.0]]))
  # normaliser = 2 proposals * batch 1; proposal 0 uses class-1 codes (all 1): smooth L1 = 2.
  np.testing.assert_allclose(loc.numpy(), 2.0 / 2, rtol=1e-5)
  np.testing.assert_allclose(cls.numpy(), 2 * np.log(3.0) / 2, rtol=1e-5)
  np.testing.assert_array_equal(t["valid"].numpy(), [[1, 1, 0]])


def test_mask_loss_uses_target_class_channel_and_pixel_mean():
  logits = np.zeros([1, 2, 2, 2, 2], np.float32)
  logits[0, 0, 1] = 100.0            # class 1 channel, box 0: confident foreground
  targets = np.ones([1, 2, 2, 2], np.float32)
  onehot = np.array([[[0, 1], [1, 0]]], np.float32)
  weights = np.array([[1.0, 0.0]], np.float32)
  out = losses.mask_loss(tf.constant(logits), tf.constant(targets), tf.constant(onehot),
                         tf.constant(weights)).numpy()
  np.testing.assert_allclose(out, 0.0, atol=1e-6)
  weights[0, 1] = 1.0                # box 1 (class 0 channel, logits 0): log 2 per pixel
  out = losses.mask_loss(tf.constant(logits), tf.constant(targets), tf.constant(onehot),
                         tf.constant(weights)).numpy()
  np.testing.assert_allclose(out, np.log(2.0) / 2, rtol=1e-5)


def test_mask_loss_zero_weights_is_exactly_zero():
  out = losses.mask_loss(tf.ones([1, 2, 1, 3, 3]), tf.zeros([1, 2, 3, 3]), tf.zeros([1, 2, 4]),
                         tf.zeros([1, 2]))
  assert out.numpy() == 0.0
