"""mask_ops: crop_and_resize semantics (hand-computed ramps), pasting, thresholding."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.ops import mask_ops


def _ramp(height=6, width=6):
  """value(y, x) = 10·y + x: bilinear sampling of it is exact (it is affine)."""
  y, x = np.mgrid[0:height, 0:width]
  return (10.0 * y + x).astype(np.float32)


def test_crop_of_ramp_is_hand_computed():
  masks = tf.constant(_ramp()[None])
  # Box rows 0.2..0.6 of a 6-pixel axis -> y = 1.0 .. 3.0 (scale H-1 = 5); cols 0..1 -> x 0..5.
  boxes = tf.constant([[0.2, 0.0, 0.6, 1.0]])
  out = mask_ops.crop_masks_to_boxes(masks, boxes, 3).numpy()[0]
  ys = np.array([1.0, 2.0, 3.0])
  xs = np.array([0.0, 2.5, 5.0])
  np.testing.assert_allclose(out, 10.0 * ys[:, None] + xs[None, :], atol=1e-5)


def test_crop_matches_tf_image_crop_and_resize_including_extrapolation():
  rng = np.random.default_rng(0)
  masks = rng.random((3, 7, 9)).astype(np.float32)
  boxes = np.array([[0.1, 0.2, 0.7, 0.9], [-0.2, 0.3, 0.5, 1.3], [0.4, 0.4, 0.4, 0.6]],
                   np.float32)
  ours = mask_ops.crop_masks_to_boxes(masks, boxes, 5)
  ref = tf.image.crop_and_resize(masks[..., None], boxes, [0, 1, 2], [5, 5],
                                 extrapolation_value=0.0)[..., 0]
  np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=1e-5)


def test_crop_features_batched_and_in_tf_function():
  features = tf.constant(np.stack([_ramp(), 2 * _ramp()], 0)[..., None] * np.ones([1, 1, 1, 2]),
                         tf.float32)
  boxes = tf.constant([[[0.2, 0.0, 0.6, 1.0]], [[0.0, 0.0, 1.0, 1.0]]])
  out = tf.function(lambda f, b: mask_ops.crop_features_to_boxes(f, b, 3))(features, boxes)
  assert out.shape == (2, 1, 3, 3, 2)
  np.testing.assert_allclose(out[0, 0, :, :, 1], 10.0 * np.array([1, 2, 3.])[:, None]
                             + np.array([0, 2.5, 5.0])[None], atol=1e-5)
  np.testing.assert_allclose(out[1, 0, 2, 2, 0], 2 * 55.0, atol=1e-4)


def test_crop_is_differentiable_wrt_features():
  features = tf.Variable(tf.ones([1, 6, 6, 1]))
  with tf.GradientTape() as tape:
    out = mask_ops.crop_features_to_boxes(features, tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), 6)
    loss = tf.reduce_sum(out)
  grad = tape.gradient(loss, features)
  np.testing.assert_allclose(grad.numpy(), np.ones([1, 6, 6, 1]), atol=1e-5)


def test_paste_inverts_crop_inside_the_box_and_is_zero_outside():
  box = np.array([[0.25, 0.25, 0.75, 0.75]], np.float32)
  box_mask = np.ones([1, 4, 4], np.float32)
  pasted = mask_ops.paste_box_masks(box_mask, box, 9, 9).numpy()[0]
  # Image pixel y samples box coordinate (y/8 - 0.25)/0.5 ∈ [0, 1] for y = 2..6.
  inside = np.zeros([9, 9], bool)
  inside[2:7, 2:7] = True
  np.testing.assert_allclose(pasted[inside], 1.0, atol=1e-5)
  np.testing.assert_allclose(pasted[~inside], 0.0, atol=1e-6)


def test_paste_and_binarize_thresholds_strictly_above_half():
  masks = tf.constant([[[[0.5, 0.5], [0.9, 0.9]]]])          # [1, 1, 2, 2]
  boxes = tf.constant([[[0.0, 0.0, 1.0, 1.0]]])
  out = tf.function(lambda m, b: mask_ops.paste_and_binarize_masks(m, b, 3, 3))(masks, boxes)
  assert out.dtype == tf.uint8
  # Row 0 reads 0.5 (not > 0.5), row 1 reads 0.7, row 2 reads 0.9.
  np.testing.assert_array_equal(out.numpy()[0, 0], [[0, 0, 0], [1, 1, 1], [1, 1, 1]])


def test_zero_boxes_give_zero_sized_outputs():
  out = mask_ops.crop_masks_to_boxes(tf.zeros([0, 8, 8]), tf.zeros([0, 4]), 4)
  assert out.shape == (0, 4, 4)
  pasted = mask_ops.paste_box_masks(tf.zeros([0, 4, 4]), tf.zeros([0, 4]), 8, 8)
  assert pasted.shape == (0, 8, 8)


@pytest.mark.parametrize("size", [1, 2])
def test_small_sizes_follow_crop_and_resize(size):
  masks = tf.constant(_ramp()[None])
  boxes = tf.constant([[0.2, 0.2, 0.8, 0.6]])
  ref = tf.image.crop_and_resize(masks[..., None], boxes, [0], [size, size])[..., 0]
  np.testing.assert_allclose(mask_ops.crop_masks_to_boxes(masks, boxes, size), ref, atol=1e-5)


def test_crop_upsampled_masks_equals_resize_then_crop_and_resize():
  """The composed per-axis maps equal tf.image.resize (bilinear, x scale) followed by
  tf.image.crop_and_resize, including boxes reaching the border and a degenerate one."""
  rng = np.random.default_rng(0)
  masks = rng.normal(size=[2, 3, 5, 7]).astype(np.float32)
  boxes = np.array([[[0.0, 0.0, 1.0, 1.0], [0.1, 0.3, 0.6, 0.9], [0.5, 0.5, 0.5, 0.5]],
                    [[0.2, 0.0, 0.95, 0.4], [0.0, 0.7, 0.3, 1.0], [0.33, 0.1, 0.8, 0.2]]],
                   np.float32)
  scale, size = 4, 9
  up = tf.image.resize(tf.reshape(masks, [6, 5, 7, 1]), (5 * scale, 7 * scale), "bilinear")
  expected = tf.image.crop_and_resize(up, boxes.reshape(6, 4), tf.range(6), (size, size))
  expected = tf.reshape(expected, [2, 3, size, size]).numpy()
  for fn in (mask_ops.crop_upsampled_masks_to_boxes,
             tf.function(mask_ops.crop_upsampled_masks_to_boxes)):
    out = fn(tf.constant(masks), tf.constant(boxes), size, scale).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)
