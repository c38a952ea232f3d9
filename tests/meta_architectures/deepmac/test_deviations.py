"""Deviations D2 (crop-mode box consistency) and D6 (full-resolution output masks), by hand.

The loss compares the row/column maxima of the mask logits with those of the GT box drawn in the
same frame. With RoI crops the logits are already in the frame of the crop box. Here the GT box is
drawn in that frame (fill_boxes_in_crop_frame; the whole crop when no jitter) and the projections
are taken on the logits as they are. The original (deepmac_meta_arch._compute_box_consistency_loss)
draws the GT box in the IMAGE frame on a grid of the logits' size and then crop-and-resizes BOTH
that map and the logits with the crop box, so it looks at a zoomed-in part of the crop.
"""

import math

import numpy as np
import tensorflow as tf

from object_detection.meta_architectures.deepmac import losses
from object_detection.losses import classification
from object_detection.ops import mask_ops

SIGMOID = classification.weighted_sigmoid


def _ce_positive(logit):
  return math.log1p(math.exp(-logit))


def _original_formula(logits, box, size):
  """The original's crop-mode value (its steps, written out with TF ops)."""
  filled = losses.fill_boxes(box[None, None], size, size)[0, 0]                # image frame
  crop = lambda m: tf.image.crop_and_resize(m[None, :, :, None], box[None], [0], [size, size])[
      0, :, :, 0]
  gt, pred = crop(filled), crop(logits)
  total = 0.0
  for axis in (0, 1):
    p, t = tf.reduce_max(pred, axis=axis), tf.reduce_max(gt, axis=axis)
    total += float(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(t, p)))
  return total


def test_crop_mode_box_consistency_differs_from_the_original_as_documented():
  size = 4
  logits = np.full([size, size], -10.0, np.float32)
  logits[0, 0] = 10.0                                    # the only positive logit: a crop corner
  box = tf.constant([0.25, 0.25, 0.75, 0.75])            # GT box = crop box (no jitter)
  box_masks = losses.fill_boxes_in_crop_frame(box[None, None], box[None, None], size)
  np.testing.assert_array_equal(box_masks.numpy(), np.ones([1, 1, size, size]))
  ours = float(losses.box_consistency_loss(SIGMOID, tf.constant(logits)[None, None],
                                           box_masks)[0, 0])
  # Row maxima (10, -10, -10, -10), column maxima the same, targets all 1; mean per axis.
  expected = 2 * (_ce_positive(10.0) + 3 * _ce_positive(-10.0)) / size
  assert abs(ours - expected) < 1e-4
  original = _original_formula(tf.constant(logits), box, size)
  # The original's re-crop samples the inner half of the crop, where every logit is about -10
  # (-8.75 next to the corner): every projection misses the corner, and its image-frame box
  # leaves zeros in the target rows/columns.
  assert abs(original - ours) > 1.0, (original, ours)


def test_full_resolution_output_masks_upsample_the_height_not_the_instance_count():
  """D6. The original's `_postprocess_masks` resizes [B, N, h, w] logits to
  (tf.shape(logits)[1] * stride, tf.shape(logits)[2] * stride) = (N·stride, h·stride): axis 1 is
  the instance axis. Here: (h·stride, w·stride). Its formula is written out below; on the
  random-weight full-resolution DeepMAC of benchmarks/reference it reproduces the original's
  masks exactly (max |Δp| 6e-8), ours differs by up to 7e-3."""
  rng = np.random.default_rng(1)
  stride, size, num = 4, 16, 3
  logits = tf.constant(rng.normal(size=[1, num, 8, 8]).astype(np.float32))
  boxes = tf.constant([[[0.1, 0.2, 0.7, 0.9], [0.0, 0.0, 1.0, 1.0], [0.3, 0.3, 0.5, 0.6]]])
  ours = mask_ops.crop_upsampled_masks_to_boxes(logits, boxes, size, stride)[0]

  def crop(resized):
    return tf.image.crop_and_resize(resized, boxes[0], tf.range(num), (size, size))[..., 0]

  correct = crop(tf.image.resize(logits[0][..., None], (8 * stride, 8 * stride), "bilinear"))
  original = crop(tf.image.resize(logits[0][..., None], (num * stride, 8 * stride), "bilinear"))
  np.testing.assert_allclose(ours.numpy(), correct.numpy(), atol=1e-5)
  assert np.abs(original.numpy() - ours.numpy()).max() > 0.05
