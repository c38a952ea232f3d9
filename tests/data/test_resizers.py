"""Resizers: output sizes as the original's resize_to_range, nearest masks, padding, tf.function."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.data import resizers


def _image(h, w, c=3):
  return tf.reshape(tf.range(h * w * c, dtype=tf.float32) % 255.0, [h, w, c])


@pytest.mark.parametrize("hw,expected", [
    ((30, 40), [16, 21]),   # short side -> 16, long side 21.33 rounds to 21 (<= 32)
    ((20, 80), [8, 32]),    # short side -> 16 would make the long side 64 > 32: long side -> 32
    ((32, 32), [16, 16]),
])
def test_resize_to_range_sizes_static_and_dynamic(hw, expected):
  image = _image(*hw)
  _, _, shape = resizers.resize_to_range(image, min_dimension=16, max_dimension=32)
  np.testing.assert_array_equal(shape.numpy(), expected + [3])
  dyn = tf.function(lambda im: resizers.resize_to_range(im, None, 16, 32)[2],
                    input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
  np.testing.assert_array_equal(dyn(image).numpy(), expected + [3])


def test_resize_to_range_pads_image_and_masks_bottom_right():
  image = tf.fill([20, 80, 3], 100.0)
  masks = tf.ones([2, 20, 80], tf.uint8)
  fn = tf.function(lambda im, m: resizers.resize_to_range(
      im, m, 16, 32, pad_to_max_dimension=True, per_channel_pad_value=(1.0, 2.0, 3.0)),
      input_signature=[tf.TensorSpec([None, None, 3]), tf.TensorSpec([None, None, None], tf.uint8)])
  for run in (lambda: resizers.resize_to_range(image, masks, 16, 32, True and "bilinear",
                                              True, (1.0, 2.0, 3.0)),
              lambda: fn(image, masks)):
    new_image, new_masks, shape = run()
    assert new_image.shape == (32, 32, 3) and new_masks.shape == (2, 32, 32)
    assert new_masks.dtype == tf.uint8
    np.testing.assert_array_equal(shape.numpy(), [8, 32, 3])
    np.testing.assert_allclose(new_image[:8].numpy(), 100.0)
    np.testing.assert_allclose(new_image[8:].numpy(), np.broadcast_to([1.0, 2.0, 3.0], [24, 32, 3]))
    assert new_masks[:, :8].numpy().min() == 1 and new_masks[:, 8:].numpy().max() == 0


def test_static_output_shape_under_tf_function():
  fn = tf.function(lambda im: resizers.resize_to_range(im, None, 16, 32, pad_to_max_dimension=True),
                   input_signature=[tf.TensorSpec([None, None, 3])])
  out = fn.get_concrete_function().structured_outputs[0]
  assert out.shape.as_list() == [32, 32, 3]


def test_masks_are_nearest_neighbour():
  mask = np.zeros([1, 4, 4], np.uint8)
  mask[0, :2, :2] = 1
  _, new_masks, _ = resizers.resize_image(_image(4, 4), tf.constant(mask), 8, 8)
  expected = np.zeros([8, 8], np.uint8)
  expected[:4, :4] = 1
  np.testing.assert_array_equal(new_masks[0].numpy(), expected)


def test_zero_instance_masks():
  _, new_masks, _ = resizers.resize_to_range(_image(30, 40), tf.zeros([0, 30, 40], tf.uint8),
                                            16, 32, pad_to_max_dimension=True)
  assert new_masks.shape == (0, 32, 32)


def test_fixed_and_identity_and_pad_to_multiple():
  image = _image(10, 14)
  im, _, shape = resizers.resize_image(image, None, 6, 8)
  assert im.shape == (6, 8, 3)
  np.testing.assert_array_equal(shape.numpy(), [6, 8, 3])
  im, _, shape = resizers.identity_resize(image)
  np.testing.assert_array_equal(shape.numpy(), [10, 14, 3])
  im, masks, shape = resizers.pad_to_multiple(image, tf.ones([1, 10, 14], tf.uint8), 8)
  assert im.shape == (16, 16, 3) and masks.shape == (1, 16, 16)
  np.testing.assert_array_equal(shape.numpy(), [10, 14, 3])
  assert int(tf.reduce_sum(masks)) == 140


def test_legacy_bilinear_matches_tf1_sampling():
  # align_corners=False, half_pixel_centers=False: out[i] = in[i * in/out] (linear interp.).
  row = tf.constant([[0.0, 10.0]])[:, :, None]  # [1, 2, 1]
  out = resizers.legacy_resize(row, [1, 4])[0, :, 0]
  np.testing.assert_allclose(out.numpy(), [0.0, 5.0, 10.0, 10.0])


def test_conditional_shape_resize():
  im, _, shape = resizers.conditional_shape_resize(_image(10, 20), None, "GREATER", 10)
  np.testing.assert_array_equal(shape.numpy(), [5, 10, 3])
  im, _, shape = resizers.conditional_shape_resize(_image(10, 20), None, "GREATER", 30)
  np.testing.assert_array_equal(shape.numpy(), [10, 20, 3])


def test_grayscale_wrapper():
  fn = resizers.with_grayscale(lambda im, m=None: resizers.resize_image(im, m, 4, 4))
  im, _, shape = fn(_image(8, 8))
  assert im.shape == (4, 4, 1)
  np.testing.assert_array_equal(shape.numpy(), [4, 4, 1])


def test_resize_batch_static_shapes():
  def fn(im, m=None):
    return resizers.resize_to_range(im, m, 16, 32, pad_to_max_dimension=True)
  images = tf.stack([_image(20, 80), _image(20, 80)])
  out, shapes = resizers.resize_batch(fn, images)
  assert out.shape == (2, 32, 32, 3)
  np.testing.assert_array_equal(shapes.numpy(), [[8, 32, 3], [8, 32, 3]])


def test_resizers_compile_with_xla():
  fn = tf.function(lambda ims: resizers.resize_batch(
      lambda im, m=None: resizers.resize_to_range(im, m, 16, 32, pad_to_max_dimension=True), ims),
      jit_compile=True)
  out, shapes = fn(tf.ones([2, 20, 80, 3]))
  assert out.shape == (2, 32, 32, 3)
  np.testing.assert_array_equal(shapes.numpy(), [[8, 32, 3], [8, 32, 3]])
