"""Hand-computed checks of the localization losses (batch 1 x 2 anchors)."""

import math

import numpy as np
import pytest

from object_detection.losses import localization

CODES = [[[0.0, 0.0, 0.0, 0.0], [0.5, 2.0, 0.0, 0.0]]]   # [1, 2, 4] encodings; targets are 0
ZEROS = np.zeros([1, 2, 4]).tolist()
WEIGHTS = [[1.0, 0.5]]

UNIT = [0.0, 0.0, 1.0, 1.0]
HALF = [0.0, 0.0, 1.0, 0.5]      # left half of UNIT: IoU 0.5
FAR = [2.0, 2.0, 3.0, 3.0]       # disjoint from UNIT; hull 3 x 3


def test_weighted_l2_weight_inside_the_square(run):
  loss = run(localization.weighted_l2, CODES, ZEROS, WEIGHTS)
  # 0.5 * ((0.5 * 0.5)^2 + (0.5 * 2)^2) = 0.5 * (0.0625 + 1) = 0.53125.
  np.testing.assert_allclose(loss, [[0.0, 0.53125]], rtol=1e-6)


def test_weighted_smooth_l1(run):
  loss = run(localization.weighted_smooth_l1, CODES, ZEROS, [[1.0, 1.0]])
  # 0.5 * 0.5^2 + (2 - 0.5) = 1.625.
  np.testing.assert_allclose(loss, [[0.0, 1.625]], rtol=1e-6)
  weighted = run(localization.weighted_smooth_l1, CODES, ZEROS, WEIGHTS, delta=0.5)
  # delta 0.5: |0.5| -> 0.125; |2| -> 0.5 * (2 - 0.25) = 0.875; sum 1.0, times weight 0.5.
  np.testing.assert_allclose(weighted, [[0.0, 0.5]], rtol=1e-6)


def test_weighted_iou(run):
  loss = run(localization.weighted_iou, [[UNIT, UNIT]], [[HALF, FAR]], [[1.0, 0.5]])
  np.testing.assert_allclose(loss, [[0.5, 0.5 * 1.0]], rtol=1e-6)


def test_weighted_giou(run):
  loss = run(localization.weighted_giou, [[UNIT, UNIT]], [[HALF, FAR]], [[1.0, 1.0]])
  # Pair 1: hull = union -> GIoU = IoU = .5. Pair 2: IoU 0, hull 9, union 2 -> GIoU = -7/9.
  np.testing.assert_allclose(loss, [[0.5, 1 + 7 / 9]], rtol=1e-6)


def test_weighted_giou_empty_boxes_are_finite(run):
  empty = [0.0, 0.0, 0.0, 0.0]
  loss = run(localization.weighted_giou, [[empty, UNIT]], [[empty, UNIT]], [[1.0, 1.0]])
  # Empty pair: hull 0 -> GIoU 0 -> loss 1; identical boxes -> 0.
  np.testing.assert_allclose(loss, [[1.0, 0.0]], atol=1e-6)


def test_ciou(run):
  loss = run(localization.ciou, [[UNIT, UNIT]], [[HALF, UNIT]], [[1.0, 1.0]])
  # IoU .5; centres (.5, .5) and (.5, .25): rho^2 = 1/16; hull diagonal^2 = 2.
  v = 4 / math.pi ** 2 * (math.atan(0.5) - math.atan(1.0)) ** 2
  alpha = v / (0.5 + v)
  np.testing.assert_allclose(loss, [[0.5 + 1 / 32 + alpha * v, 0.0]], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [localization.weighted_l2, localization.weighted_smooth_l1,
                                localization.weighted_iou, localization.weighted_giou,
                                localization.ciou])
def test_zero_weights_give_zero_finite_loss(fn, run):
  loss = run(fn, [[UNIT, FAR]], [[HALF, UNIT]], [[0.0, 0.0]])
  assert np.all(np.isfinite(loss))
  np.testing.assert_array_equal(loss, np.zeros([1, 2]))
