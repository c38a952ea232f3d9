"""Penalty-reduced logistic focal loss and L1, hand-computed (no reduction)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from object_detection.losses import center_net

LN2 = math.log(2.0)


def _focal_4x4():
  # Logits: 0 everywhere (p = 0.5) except a confident centre (p -> 1 - 1e-4 after clipping)
  # and a confident false positive on the background (p -> 1 - 1e-4).
  logits = np.zeros([1, 4, 4, 1], np.float32)
  target = np.zeros([1, 4, 4, 1], np.float32)
  target[0, 1, 1, 0] = 1.0      # centre, p = 0.5: (1-p)^2 * -log p = 0.25 ln2
  target[0, 1, 2, 0] = 0.5      # near the centre: (1-t)^4 p^2 -log(1-p) = 0.0625*0.25 ln2
  target[0, 3, 3, 0] = 1.0
  logits[0, 3, 3, 0] = 50.0     # clipped p = 1 - 1e-4: (1e-4)^2 * -log(1 - 1e-4)
  logits[0, 0, 3, 0] = 50.0     # negative, t = 0: 1 * (1 - 1e-4)^2 * -log(1e-4)
  expected = np.full([1, 4, 4, 1], 0.25 * LN2, np.float32)  # t = 0, p = 0.5 background
  expected[0, 1, 1, 0] = 0.25 * LN2
  expected[0, 1, 2, 0] = 0.0625 * 0.25 * LN2
  expected[0, 3, 3, 0] = 1e-8 * -math.log(1 - 1e-4)
  expected[0, 0, 3, 0] = (1 - 1e-4) ** 2 * -math.log(1e-4)
  return logits, target, expected


@pytest.mark.parametrize("graph", [False, True])
def test_focal_loss_4x4(graph):
  logits, target, expected = _focal_4x4()
  fn = center_net.penalty_reduced_logistic_focal_loss
  if graph:
    fn = tf.function(fn)
  got = fn(tf.constant(logits), tf.constant(target), 1.0).numpy()
  np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-9)
  assert abs(got[0, 0, 3, 0] - 9.2085) < 1e-3


def test_focal_loss_weights_and_exponents():
  logits, target, _ = _focal_4x4()
  weights = np.ones([1, 4, 4, 1], np.float32)
  weights[0, :, 2:] = 0.0  # e.g. the padded right half of the image
  got = center_net.penalty_reduced_logistic_focal_loss(logits, target, weights).numpy()
  assert not got[0, :, 2:].any()
  # alpha = 1, beta = 2 on the near-centre cell: (1 - 0.5)^2 * 0.5 * ln2.
  got = center_net.penalty_reduced_logistic_focal_loss(logits, target, alpha=1.0, beta=2.0)
  np.testing.assert_allclose(got.numpy()[0, 1, 2, 0], 0.25 * 0.5 * LN2, rtol=1e-5)


def test_focal_loss_gradient_is_finite_at_saturation():
  logits = tf.constant([[-80.0, 80.0, 0.0]])
  target = tf.constant([[1.0, 0.0, 0.3]])
  with tf.GradientTape() as tape:
    tape.watch(logits)
    loss = tf.reduce_sum(center_net.penalty_reduced_logistic_focal_loss(logits, target))
  assert np.isfinite(tape.gradient(loss, logits).numpy()).all()


def test_l1_is_elementwise_and_weighted():
  pred = tf.constant([[[1.0, 2.0], [3.0, -1.0]]])
  target = tf.constant([[[2.0, 5.0], [0.0, 0.0]]])
  weights = tf.constant([[[1.0], [0.5]]])
  np.testing.assert_allclose(center_net.l1(pred, target, weights).numpy(),
                             [[[1.0, 3.0], [1.5, 0.5]]])
  np.testing.assert_allclose(tf.function(center_net.l1)(pred, target).numpy(),
                             [[[1.0, 3.0], [3.0, 1.0]]])
