"""Overlay drawing: masks tinted, boxes outlined, low scores skipped."""

import numpy as np

from object_detection.utils import visualization


def test_draws_mask_box_and_skips_low_scores():
  image = np.zeros((64, 64, 3), np.uint8)
  masks = np.zeros((2, 64, 64), np.uint8)
  masks[0, 20:40, 20:40] = 1
  masks[1, 0:10, 0:10] = 1
  out = visualization.draw_detections(
      image, np.array([[0.3, 0.3, 0.7, 0.7], [0.0, 0.0, 0.15, 0.15]]), np.array([1, 2]),
      np.array([0.9, 0.1]), masks, {1: {"id": 1, "name": "cat"}}, min_score_thresh=0.5)
  assert out.shape == (64, 64, 3) and out.dtype == np.uint8
  assert out[30, 30].sum() > 0            # inside the tinted mask
  assert out[5, 5].sum() == 0             # low-score detection not drawn
  assert out[63, 63].sum() == 0           # untouched background
  gt = visualization.draw_detections(image, np.array([[0.3, 0.3, 0.7, 0.7]]), [1], None)
  assert gt[int(0.7 * 64), 32].sum() > 0  # box outline drawn without scores
  assert visualization.side_by_side(out, gt).shape == (64, 128, 3)
