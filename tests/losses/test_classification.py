"""Hand-computed checks of the classification losses on a 2-anchor x 3-class example."""

import math

import numpy as np
import pytest

from object_detection.losses import classification

LN2, LN3, LN4 = math.log(2.0), math.log(3.0), math.log(4.0)

# Logits 0, ln3, -ln3 have sigmoids 0.5, 0.75, 0.25.
SIGMOID_LOGITS = [[[0.0, LN3, -LN3], [LN3, 0.0, -LN3]]]          # [1, 2, 3]
SIGMOID_TARGETS = [[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]
ANCHOR_WEIGHTS = [[[1.0], [0.5]]]                                 # [1, 2, 1]

# Softmax of log([1, 2, 1]) is [1/4, 1/2, 1/4]; of log([1, 1, 2]) is [1/4, 1/4, 1/2].
SOFTMAX_LOGITS = np.log([[[1.0, 2.0, 1.0], [1.0, 1.0, 2.0]]]).tolist()
SOFTMAX_TARGETS = [[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]]


def test_weighted_sigmoid(run):
  loss = run(classification.weighted_sigmoid, SIGMOID_LOGITS, SIGMOID_TARGETS, ANCHOR_WEIGHTS)
  # -log(0.5), -log(1 - 0.75), -log(1 - 0.25); second anchor: -log(0.25), -log(0.5), -log(0.25).
  expected = [[[LN2, LN4, math.log(4 / 3)], [0.5 * LN4, 0.5 * LN2, 0.5 * LN4]]]
  np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_weighted_sigmoid_class_indices_zero_other_classes(run):
  loss = run(classification.weighted_sigmoid, SIGMOID_LOGITS, SIGMOID_TARGETS, ANCHOR_WEIGHTS,
             class_indices=[0, 2])
  expected = [[[LN2, 0.0, math.log(4 / 3)], [0.5 * LN4, 0.0, 0.5 * LN4]]]
  np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-7)


def test_sigmoid_focal(run):
  loss = run(classification.sigmoid_focal, SIGMOID_LOGITS, SIGMOID_TARGETS, ANCHOR_WEIGHTS,
             gamma=2.0, alpha=0.25)
  # p_t row 0: 0.5, 0.25, 0.75 -> (1 - p_t)^2 = 0.25, 0.5625, 0.0625; alpha_t = .25 (t=1), .75.
  # p_t row 1: 0.25, 0.5, 0.25 -> 0.5625, 0.25, 0.5625; alpha_t = .75, .75, .25; weight 0.5.
  expected = [[[0.25 * 0.25 * LN2, 0.5625 * 0.75 * LN4, 0.0625 * 0.75 * math.log(4 / 3)],
               [0.5 * 0.5625 * 0.75 * LN4, 0.5 * 0.25 * 0.75 * LN2, 0.5 * 0.5625 * 0.25 * LN4]]]
  np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_sigmoid_focal_without_alpha_and_gamma_is_sigmoid(run):
  focal = run(classification.sigmoid_focal, SIGMOID_LOGITS, SIGMOID_TARGETS, ANCHOR_WEIGHTS,
              gamma=0.0, alpha=None)
  plain = run(classification.weighted_sigmoid, SIGMOID_LOGITS, SIGMOID_TARGETS, ANCHOR_WEIGHTS)
  np.testing.assert_allclose(focal, plain, rtol=1e-6)


def test_weighted_softmax(run):
  loss = run(classification.weighted_softmax, SOFTMAX_LOGITS, SOFTMAX_TARGETS, ANCHOR_WEIGHTS)
  # -log(1/2); 0.5 * -log(1/4).
  np.testing.assert_allclose(loss, [[LN2, 0.5 * LN4]], rtol=1e-5)


def test_weighted_softmax_logit_scale_and_per_class_weights(run):
  weights = [[[1.0, 1.0, 1.0], [0.0, 0.0, 3.0]]]  # per-anchor weight = mean over classes = 1, 1
  loss = run(classification.weighted_softmax, SOFTMAX_LOGITS, SOFTMAX_TARGETS, weights,
             logit_scale=2.0)
  # Halved logits: softmax of log(sqrt([1, 2, 1])) -> sqrt2 / (2 + sqrt2) for the target.
  r2 = math.sqrt(2.0)
  expected = [[-math.log(r2 / (2 + r2)), -math.log(1 / (2 + r2))]]
  np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_weighted_logits_softmax(run):
  target_logits = np.log([[[1.0, 1.0, 2.0], [1.0, 2.0, 1.0]]]).tolist()
  loss = run(classification.weighted_logits_softmax, SOFTMAX_LOGITS, target_logits,
             ANCHOR_WEIGHTS)
  # Anchor 0: targets [.25, .25, .5], prediction [.25, .5, .25]:
  # -(.25 log .25 + .25 log .5 + .5 log .25) = 1.75 ln2. Anchor 1 (weight .5): symmetric, same.
  np.testing.assert_allclose(loss, [[1.75 * LN2, 0.5 * 1.75 * LN2]], rtol=1e-5)


def test_bootstrapped_sigmoid_soft_and_hard(run):
  logits = [[[0.0, LN3, -LN3]]]
  targets = [[[1.0, 0.0, 0.0]]]
  weights = [[[1.0]]]
  soft = run(classification.bootstrapped_sigmoid, logits, targets, weights, alpha=0.5)
  # Mixed targets: .5 + .25 = .75, .375, .125; CE = -(m log s + (1 - m) log(1 - s)).
  def ce(m, s):
    return -(m * math.log(s) + (1 - m) * math.log(1 - s))
  np.testing.assert_allclose(soft, [[[ce(0.75, 0.5), ce(0.375, 0.75), ce(0.125, 0.25)]]],
                             rtol=1e-5)
  hard = run(classification.bootstrapped_sigmoid, logits, targets, weights, alpha=0.5,
             hard_bootstrap=True)
  # Hard beliefs 1[s > 0.5] = 0, 1, 0 -> mixed targets .5, .5, 0.
  np.testing.assert_allclose(hard, [[[ce(0.5, 0.5), ce(0.5, 0.75), ce(0.0, 0.25)]]], rtol=1e-5)


def test_weighted_dice(run):
  # [B=2, P=3, K=1] probabilities; the second image has empty prediction and target.
  probabilities = [[[1.0], [0.5], [0.0]], [[0.0], [0.0], [0.0]]]
  targets = [[[1.0], [1.0], [0.0]], [[0.0], [0.0], [0.0]]]
  weights = [[[1.0], [1.0], [1.0]], [[1.0], [1.0], [1.0]]]
  loss = run(classification.weighted_dice, probabilities, targets, weights,
             is_prediction_probability=True)
  # 1 - 2 * 1.5 / (1.5 + 2) = 1/7; empty: 1 - 0 / max(0, 1) = 1.
  np.testing.assert_allclose(loss, [[1 / 7], [1.0]], rtol=1e-5)
  squared = run(classification.weighted_dice, probabilities, targets, weights,
                squared_normalization=True, is_prediction_probability=True)
  # p^2 = 1, .25, 0: 1 - 2 * 1.25 / (1.25 + 2) = 3/13.
  np.testing.assert_allclose(squared, [[3 / 13], [1.0]], rtol=1e-5)


def test_weighted_dice_from_logits(run):
  logits = [[[0.0], [0.0], [-100.0]]]   # sigmoid .5, .5, ~0
  targets = [[[1.0], [1.0], [0.0]]]
  loss = run(classification.weighted_dice, logits, targets, [[[1.0], [1.0], [1.0]]])
  # 1 - 2 * 1 / (1 + 2) = 1/3.
  np.testing.assert_allclose(loss, [[1 / 3]], rtol=1e-5)


@pytest.mark.parametrize("fn", [classification.weighted_sigmoid, classification.sigmoid_focal,
                                classification.bootstrapped_sigmoid])
def test_zero_weights_give_zero_finite_loss(fn, run):
  kwargs = {"alpha": 0.5} if fn is classification.bootstrapped_sigmoid else {}
  loss = run(fn, SIGMOID_LOGITS, np.zeros([1, 2, 3]), np.zeros([1, 2, 1]), **kwargs)
  assert np.all(np.isfinite(loss))
  np.testing.assert_array_equal(loss, np.zeros([1, 2, 3]))


def test_softmax_zero_weights_and_extreme_logits_are_finite(run):
  logits = [[[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]]]
  loss = run(classification.weighted_softmax, logits, SOFTMAX_TARGETS, np.zeros([1, 2, 1]))
  assert np.all(np.isfinite(loss))
  np.testing.assert_array_equal(loss, np.zeros([1, 2]))
