"""RoI crops on a ramp: crop_and_resize (matmul form) vs tf.image.crop_and_resize, RoIAlign by
hand, FPN level assignment, multi-level selection; eager, tf.function and XLA."""

import numpy as np
import tensorflow as tf

from object_detection.ops import roi_align

# A horizontal ramp 0..7 on a 4x8 map, 2 channels (second = 10x).
RAMP = tf.reshape(tf.range(8.0), [1, 1, 8, 1]) * tf.ones([1, 4, 1, 1]) * tf.constant([1.0, 10.0])


def test_crop_and_resize_matches_tf_image():
  boxes = tf.constant([[[0.0, 0.0, 1.0, 1.0], [0.25, 0.1, 0.75, 0.6], [-0.5, -0.2, 0.5, 0.4],
                        [0.3, 0.3, 0.3, 0.9]]])
  expected = tf.image.crop_and_resize(RAMP, boxes[0], tf.zeros([4], tf.int32), (3, 5))
  fn = lambda f, b: roi_align.crop_and_resize(f, b, (3, 5))
  for f in (fn, tf.function(fn), tf.function(fn, jit_compile=True)):
    np.testing.assert_allclose(f(RAMP, boxes).numpy()[0], expected.numpy(), atol=1e-5)


def test_crop_and_resize_ramp_by_hand():
  # x from 0 to 1 -> columns 0..7 at 3 samples: 0, 3.5, 7.
  out = roi_align.crop_and_resize(RAMP, tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), (1, 3))
  np.testing.assert_allclose(out.numpy()[0, 0, 0, :, 0], [0.0, 3.5, 7.0])


def test_roi_align_by_hand():
  # x in [0, 0.5] of width 8 -> pixels [0, 4]; 2 bins of 2 px, 2 samples each at 0.5, 1.5
  # (pixel-centre coords) -> indices 0, 1 -> mean 0.5; and 2, 3 -> 2.5.
  fn = lambda f, b: roi_align.roi_align(f, b, (1, 2), sampling_ratio=2)
  for f in (fn, tf.function(fn)):
    out = f(RAMP, tf.constant([[[0.0, 0.0, 1.0, 0.5]]])).numpy()
    np.testing.assert_allclose(out[0, 0, 0, :, 0], [0.5, 2.5], atol=1e-5)
    np.testing.assert_allclose(out[0, 0, 0, :, 1], [5.0, 25.0], atol=1e-4)


def test_crop_and_pool_shape():
  out = roi_align.crop_and_pool(RAMP, tf.constant([[[0.0, 0.0, 1.0, 1.0]] * 3]), 4, 2, 2)
  assert out.shape == (3, 2, 2, 2)


def test_fpn_levels():
  # 224x224 image; unit_scale_index 2: a 224 px box -> 2, 112 -> 1, 56 -> 0 (clipped), 448 -> 3.
  boxes = tf.constant([[[0, 0, 1, 1], [0, 0, 0.5, 0.5], [0, 0, 0.1, 0.1], [0, 0, 2, 2]]],
                      tf.float32)
  np.testing.assert_array_equal(roi_align.fpn_levels(boxes, 4, 2, 224.0).numpy(), [[2, 1, 0, 3]])


def test_multilevel_crop_selects_the_level():
  fine = tf.ones([1, 8, 8, 1])
  coarse = 2.0 * tf.ones([1, 4, 4, 1])
  boxes = tf.constant([[[0, 0, 0.25, 0.25], [0, 0, 1, 1]]], tf.float32)
  # 2 levels: unit_scale_index 0; at 896 px the full box (896 px) -> level 1, the small one -> 0.
  fn = lambda f, c, b: roi_align.multilevel_crop([f, c], b, (2, 2), 896.0)
  for f in (fn, tf.function(fn, jit_compile=True)):
    out = f(fine, coarse, boxes)
    np.testing.assert_allclose(out.numpy()[0, :, 0, 0, 0], [1.0, 2.0])
  ramp = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
  out = roi_align.multilevel_crop([ramp, coarse], boxes, (2, 2), 896.0).numpy()
  np.testing.assert_allclose(out[0, 0, ..., 0], [[0.0, 0.75], [3.0, 3.75]], atol=1e-6)


def test_crop_masks_by_index_and_gradient():
  masks = tf.stack([tf.zeros([4, 4]), tf.ones([4, 4])])[None]          # [1, 2, 4, 4]
  boxes = tf.constant([[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]])
  out = roi_align.crop_masks(masks, tf.constant([[1, 0]]), boxes, (2, 2)).numpy()
  np.testing.assert_array_equal(out[0, 0], 1.0)
  np.testing.assert_array_equal(out[0, 1], 0.0)
  features = tf.Variable(tf.ones([1, 4, 4, 2]))
  with tf.GradientTape() as tape:
    total = tf.reduce_sum(roi_align.roi_align(features, boxes, (2, 2)))
  grad = tape.gradient(total, features).numpy()
  # Two boxes covering the map, 16 samples each, weights sum to 1 per output value.
  np.testing.assert_allclose(grad.sum(), 2 * 2 * 4, rtol=1e-5)


def test_border_samples_survive_one_ulp():
  """A box on the image border samples exactly W - 1; a converter's rounding (x / 3 computed as
  x * 0.33333334) lands 1 ulp past it, which must still read the border value, not 0
  (EDGE_TOLERANCE); 0.01 px past it is outside (extrapolation 0, as crop_and_resize)."""
  flat = tf.reshape(RAMP, [1, 32, 2])
  past_7 = np.nextafter(np.float32(7.0), np.float32(8.0))
  before_0 = np.float32(-1e-7)
  fn = lambda y, x: roi_align.bilinear_gather(flat, tf.constant([[0]]), tf.constant([[4]]),
                                              tf.constant([[8]]), y, x)
  for f in (fn, tf.function(fn)):
    out = f(tf.constant([[[1.0]]]), tf.constant([[[7.0, past_7, 7.01]]])).numpy()
    np.testing.assert_allclose(out[0, 0, 0, :, 0], [7.0, 7.0, 0.0], atol=1e-5)
    out = f(tf.constant([[[before_0, -0.01]]]), tf.constant([[[3.0]]])).numpy()
    np.testing.assert_allclose(out[0, 0, :, 0, 0], [3.0, 0.0], atol=1e-5)


def test_roi_align_bins_average_their_samples():
  """The 2x2 samples of each bin are averaged (an average pool over the sample grid)."""
  features = tf.random.stateless_uniform([1, 6, 6, 3], seed=[1, 2])
  boxes = tf.constant([[[0.1, 0.2, 0.9, 0.7], [0.0, 0.0, 1.0, 1.0]]])
  samples = roi_align.roi_align(features, boxes, (6, 4), sampling_ratio=1)
  binned = roi_align.roi_align(features, boxes, (3, 2), sampling_ratio=2)
  want = tf.reduce_mean(tf.reshape(samples, [1, 2, 3, 2, 2, 2, 3]), axis=[3, 5])
  np.testing.assert_allclose(binned.numpy(), want.numpy(), atol=1e-6)
