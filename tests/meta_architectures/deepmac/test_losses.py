"""DeepMAC loss functions, hand-computed on tiny examples (eager and inside tf.function)."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from object_detection.losses import classification
from object_detection.meta_architectures.deepmac import losses

SIGMOID = classification.weighted_sigmoid


def _softplus(x):
  return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _ce(logit, target):
  return _softplus(logit) - logit * target


def test_fill_boxes_on_6x6_is_inclusive():
  boxes = tf.constant([[[1 / 6, 2 / 6, 3 / 6, 4 / 6]]])
  filled = losses.fill_boxes(boxes, 6, 6).numpy()[0, 0]
  expected = np.zeros([6, 6])
  expected[1:4, 2:5] = 1.0
  np.testing.assert_array_equal(filled, expected)


@pytest.mark.parametrize("in_function", [False, True])
def test_box_consistency_projections_6x6(in_function):
  logits = np.full([1, 1, 6, 6], -10.0, np.float32)
  logits[0, 0, 2, 3] = 10.0
  box_masks = losses.fill_boxes(tf.constant([[[1 / 6, 2 / 6, 3 / 6, 4 / 6]]]), 6, 6)
  fn = lambda l, b: losses.box_consistency_loss(SIGMOID, l, b)  # noqa: E731
  if in_function:
    fn = tf.function(fn)
  out = fn(tf.constant(logits), box_masks).numpy()
  # Column maxima: col 3 = +10, others −10; GT columns 2..4. Row maxima: row 2 = +10; GT rows 1..3.
  col_pred = np.array([-10, -10, -10, 10, -10, -10.0])
  col_gt = np.array([0, 0, 1, 1, 1, 0.0])
  row_pred = np.array([-10, -10, 10, -10, -10, -10.0])
  row_gt = np.array([0, 1, 1, 1, 0, 0.0])
  expected = _ce(col_pred, col_gt).mean() + _ce(row_pred, row_gt).mean()
  np.testing.assert_allclose(out, [[expected]], rtol=1e-5)


def test_box_consistency_tightness_uses_in_box_maximum():
  logits = np.full([1, 1, 6, 6], -10.0, np.float32)
  logits[0, 0, 0, 3] = 10.0          # a positive OUTSIDE the box rows (row 0), inside its cols
  box_masks = losses.fill_boxes(tf.constant([[[1 / 6, 2 / 6, 3 / 6, 4 / 6]]]), 6, 6)
  out = losses.box_consistency_loss(SIGMOID, tf.constant(logits), box_masks,
                                    tightness=True).numpy()[0, 0]
  # In-box rows/cols take max(logits · box) (0 outside the box, the original's formula), the
  # others the raw max. Columns 2..4 -> 0, others −10; rows 1..3 -> 0, row 0 -> +10, rows 4, 5
  # -> −10.
  cols = _ce(np.array([-10, -10, 0, 0, 0, -10.0]), np.array([0, 0, 1, 1, 1, 0.0])).mean()
  rows = _ce(np.array([10, 0, 0, 0, -10, -10.0]), np.array([0, 1, 1, 1, 0, 0.0])).mean()
  np.testing.assert_allclose(out, cols + rows, rtol=1e-5)


def test_box_consistency_normalizations():
  logits = tf.zeros([1, 1, 6, 6])
  box_masks = losses.fill_boxes(tf.constant([[[1 / 6, 2 / 6, 3 / 6, 4 / 6]]]), 6, 6)
  log2 = np.log(2.0)
  # 6 pixels of CE log 2 per axis; 3 GT positives per axis; balanced: 3/3 + 3/3 per axis.
  np.testing.assert_allclose(losses.box_consistency_loss(SIGMOID, logits, box_masks,
                                                         "normalize_groundtruth_count"),
                             [[2 * 6 * log2 / 3]], rtol=1e-5)
  np.testing.assert_allclose(losses.box_consistency_loss(SIGMOID, logits, box_masks,
                                                         "normalize_balanced"),
                             [[2 * 2 * log2]], rtol=1e-5)


def test_box_in_crop_frame_without_jitter_fills_everything_and_with_jitter_the_box():
  boxes = tf.constant([[[0.2, 0.2, 0.6, 0.6]]])
  np.testing.assert_array_equal(losses.fill_boxes_in_crop_frame(boxes, boxes, 4), 1.0)
  crop = tf.constant([[[0.0, 0.0, 0.6, 0.6]]])            # box occupies [1/3, 1] of the crop
  filled = losses.fill_boxes_in_crop_frame(boxes, crop, 4).numpy()[0, 0]
  expected = np.zeros([4, 4])
  expected[1:, 1:] = 1.0                                   # samples at 0, 1/3, 2/3, 1
  np.testing.assert_array_equal(filled, expected)


def test_neighbors_dilation_1_and_2():
  values = tf.reshape(tf.range(1.0, 10.0), [3, 3, 1])
  n = losses.neighbors_2d(values, 1).numpy()[..., 0]        # [8, 3, 3]
  # Offset (−1, −1) of pixel (1, 1) is (0, 0) = 1; of pixel (0, 0) is outside = 0.
  np.testing.assert_array_equal(n[0], [[0, 0, 0], [0, 1, 2], [0, 4, 5]])
  np.testing.assert_array_equal(n[4], [[2, 3, 0], [5, 6, 0], [8, 9, 0]])      # (0, +1)
  np.testing.assert_array_equal(n[6], [[4, 5, 6], [7, 8, 9], [0, 0, 0]])      # (+1, 0)
  values5 = tf.reshape(tf.range(25.0), [5, 5, 1])
  n2 = tf.function(lambda v: losses.neighbors_2d(v, 2))(values5).numpy()[..., 0]
  assert n2[7, 0, 0] == 12.0 and n2[7, 2, 2] == 24.0 and n2[7, 3, 3] == 0.0  # (+2, +2)
  assert n2[1, 2, 2] == 2.0                                                   # (−2, 0)


def test_pixel_similarity_gaussian():
  image = np.zeros([1, 3, 1], np.float32)
  image[0, 2, 0] = 2.0                                      # [0, 0, 2] in a row
  sim = losses.pixel_similarity(tf.constant(image), 1).numpy()   # [8, 1, 3]
  # (0, +1) neighbour: |0−0| -> 1, |0−2| -> exp(−1), outside (0) vs 2 -> exp(−1).
  np.testing.assert_allclose(sim[4, 0], [1.0, np.exp(-1.0), np.exp(-1.0)], rtol=1e-5)


def test_color_consistency_hand_computed_1x2():
  logits = np.array([[[[0.0, np.log(3.0)]]]], np.float32)  # probs 0.5, 0.75
  similarity = np.zeros([8, 1, 1, 1, 2], np.float32)
  similarity[4] = 1.0                                      # only the right neighbour is similar
  box = np.ones([1, 1, 1, 2], np.float32)
  out = losses.color_consistency_loss(tf.constant(logits), tf.constant(similarity), box,
                                      threshold=0.4, dilation=1).numpy()
  # Pixel 0 with right neighbour: 0.5·0.75 + 0.5·0.25 = 0.5. Pixel 1's right neighbour is the
  # zero padding (prob 0): same = 1 − 0.75 = 0.25. Loss = (−log 0.5 − log 0.25) / 2 box pixels.
  np.testing.assert_allclose(out, [[(np.log(2.0) + np.log(4.0)) / 2]], rtol=1e-5)


def test_mask_loss_mean_over_pixels_and_dice():
  logits = tf.constant([[[[0.0, 2.0], [-2.0, 0.0]]]])
  targets = tf.constant([[[[1.0, 1.0], [0.0, 0.5]]]])
  expected = _ce(np.array([0.0, 2.0, -2.0, 0.0]), np.array([1.0, 1.0, 0.0, 0.5])).mean()
  np.testing.assert_allclose(losses.mask_loss(SIGMOID, logits, targets), [[expected]], rtol=1e-5)
  dice = functools.partial(classification.weighted_dice)
  p = 1 / (1 + np.exp(-np.array([0.0, 2.0, -2.0, 0.0])))
  t = np.array([1.0, 1.0, 0.0, 0.5])
  np.testing.assert_allclose(losses.mask_loss(dice, logits, targets),
                             [[1 - 2 * (p * t).sum() / (p.sum() + t.sum())]], rtol=1e-5)


def test_mask_loss_resizes_full_resolution_logits_to_targets():
  out = losses.mask_loss(SIGMOID, tf.zeros([1, 2, 4, 4]), tf.ones([1, 2, 8, 8]))
  np.testing.assert_allclose(out, np.full([1, 2], np.log(2.0)), rtol=1e-5)


def test_per_class_overlap_map():
  classes = tf.constant([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
  boxes = tf.constant([[[0.0, 0.0, 0.5, 0.5], [0.0, 0.25, 0.5, 0.75], [0.0, 0.0, 1.0, 1.0]]])
  valid = losses.per_instance_no_class_overlap(classes, boxes, None, 4, 4).numpy()[0]
  # Boxes 0 and 1 (same class) overlap at rows 0..2, col 1..2; box 2 has another class.
  expected_overlap = np.zeros([4, 4])
  expected_overlap[0:3, 1:3] = 1
  np.testing.assert_array_equal(valid[0], 1 - expected_overlap)
  np.testing.assert_array_equal(valid[2], np.ones([4, 4]))
  crop = losses.per_instance_no_class_overlap(classes, boxes, boxes, 3, 3).numpy()[0]
  # In box 0's frame (samples at 0, .25, .5 of the image): box 1 covers x >= .25 -> cols 1, 2.
  np.testing.assert_array_equal(crop[0], [[1, 0, 0]] * 3)


@pytest.mark.parametrize("kind", ["loss_dice", "loss_mse", "loss_kl_div"])
def test_self_supervision_zero_when_prediction_matches(kind):
  logits = tf.constant([[[[5.0, -5.0], [5.0, -5.0]]]])
  box = tf.ones([1, 1, 2, 2])
  same = losses.self_supervision_loss(kind, logits, logits, box).numpy()
  different = losses.self_supervision_loss(kind, logits, -logits, box).numpy()
  assert same[0, 0] < 0.02 and different[0, 0] > 0.3


def test_warmup_weight():
  assert losses.warmup_weight(tf.constant(5), 0, 0) == 1.0
  np.testing.assert_allclose(losses.warmup_weight(tf.constant(15), 10, 10), 0.5)
  np.testing.assert_allclose(losses.warmup_weight(tf.constant(3), 10, 10), 0.0)
  np.testing.assert_allclose(losses.warmup_weight(tf.constant(30), 10, 10), 1.0)


def test_mask_loss_dice_is_the_originals_formula_hand_computed():
  """weighted_dice_classification_loss as the DeepMAC mask loss (the original's
  WeightedDiceClassificationLoss): 1 − 2 Σ p·t / max(Σ p + Σ t, 1), with squared_normalization
  squaring p and t everywhere (numerator too)."""
  logits = tf.constant([[[[0.0, 2.0], [-2.0, 0.0]]]])          # p = .5, .880797, .119203, .5
  targets = tf.constant([[[[1.0, 1.0], [0.0, 0.5]]]])
  squared = functools.partial(classification.weighted_dice, squared_normalization=True)
  # Σ p²t² = .25 + .775803 + 0 + .0625 = 1.088303; Σ p² + Σ t² = 1.290012 + 2.25 = 3.540013.
  np.testing.assert_allclose(losses.mask_loss(squared, logits, targets),
                             [[1 - 2 * 1.088303 / 3.540013]], rtol=1e-5)
  # Σ p + Σ t = 4·0.017986 + 0.2 = 0.27194 < 1: the denominator is clamped to 1.
  faint = tf.constant([[[[0.2, 0.0], [0.0, 0.0]]]])
  np.testing.assert_allclose(losses.mask_loss(classification.weighted_dice,
                                              tf.fill([1, 1, 2, 2], -4.0), faint),
                             [[1 - 2 * 0.2 * 0.017986]], rtol=1e-5)


@pytest.mark.parametrize("in_function", [False, True])
def test_self_supervision_dice_hand_computed(in_function):
  """loss_dice: the same dice (squared_normalization false) against the binarised targets
  (logit > 0), weighted by the GT box."""
  logits = tf.constant([[[[2.0, -2.0], [0.0, 4.0]]]])          # p = .880797, .119203, .5, .982
  targets = tf.constant([[[[1.0, -1.0], [-3.0, 5.0]]]])        # binarised: 1, 0, 0, 1
  box = tf.constant([[[[1.0, 1.0], [1.0, 0.0]]]])              # the last pixel is outside
  fn = functools.partial(losses.self_supervision_loss, "loss_dice")
  if in_function:
    fn = tf.function(fn)
  # In the box: Σ p·t = .880797, Σ p = 1.5, Σ t = 1.
  np.testing.assert_allclose(fn(logits, targets, box), [[1 - 2 * 0.880797 / 2.5]], rtol=1e-5)
