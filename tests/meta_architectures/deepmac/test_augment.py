"""Self-supervision augmentation: window arithmetic, boxes, flip, and the exact inverse."""

import numpy as np
import tensorflow as tf

from object_detection.meta_architectures.deepmac import augment


def _aug(tx=0.0, ty=0.0, sx=1.0, sy=1.0, flip=False):
  f = lambda v: tf.constant([v], tf.float32)  # noqa: E731
  return augment.Augmentation(f(tx), f(ty), f(sx), f(sy), tf.constant([flip]))


def test_identity_and_flip():
  images = tf.reshape(tf.range(2 * 5 * 5 * 1, dtype=tf.float32), [2, 5, 5, 1])[:1]
  boxes = tf.constant([[[0.2, 0.1, 0.6, 0.3]]])
  out, out_boxes = augment.transform_images_and_boxes(images, boxes, _aug())
  np.testing.assert_allclose(out, images, atol=1e-4)
  np.testing.assert_allclose(out_boxes, boxes, atol=1e-6)
  out, out_boxes = augment.transform_images_and_boxes(images, boxes, _aug(flip=True))
  np.testing.assert_allclose(out, images[:, :, ::-1], atol=1e-4)
  np.testing.assert_allclose(out_boxes, [[[0.2, 0.7, 0.6, 0.9]]], atol=1e-6)


def test_scale_window_and_boxes():
  # sx = sy = 0.5: the window is the centre [0.25, 0.75]^2, zoomed x2.
  aug = _aug(sx=0.5, sy=0.5)
  np.testing.assert_allclose(aug.window(), [[0.25, 0.25, 0.75, 0.75]])
  _, boxes = augment.transform_images_and_boxes(tf.zeros([1, 8, 8, 1]),
                                                tf.constant([[[0.25, 0.5, 0.5, 0.75]]]), aug)
  np.testing.assert_allclose(boxes, [[[0.0, 0.5, 0.5, 1.0]]], atol=1e-6)


def test_inverse_transform_undoes_translation_and_flip_where_visible():
  maps = tf.reshape(tf.range(1.0, 65.0), [1, 1, 8, 8])
  aug = _aug(tx=0.0, ty=0.0, sx=0.5, sy=0.5, flip=True)
  forward, _ = augment.transform_images_and_boxes(
      tf.transpose(maps, [0, 2, 3, 1]), tf.zeros([1, 1, 4]), aug)
  back = augment.inverse_transform_maps(tf.transpose(forward, [0, 3, 1, 2]), aug).numpy()
  # The centre region (visible in the augmented image) comes back; with a bilinear zoom of a
  # linear ramp it is exact at the window's sample points.
  original = maps.numpy()
  np.testing.assert_allclose(back[0, 0, 3:5, 3:5], original[0, 0, 3:5, 3:5], atol=0.3)
  assert back[0, 0, 0, 0] == 0.0                       # outside the window: extrapolated 0
