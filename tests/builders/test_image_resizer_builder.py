"""image_resizer_builder: every ImageResizer oneof from text protos; errors name the field."""

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import image_resizer_builder
from object_detection.core.errors import ConfigError
from object_detection.protos import image_resizer_pb2


def _build(text):
  return image_resizer_builder.build(text_format.Parse(text, image_resizer_pb2.ImageResizer()))


def test_keep_aspect_ratio_with_padding():
  fn = _build("keep_aspect_ratio_resizer { min_dimension: 16 max_dimension: 32 "
              "pad_to_max_dimension: true }")
  image, masks, shape = fn(tf.ones([20, 80, 3]), tf.ones([1, 20, 80], tf.uint8))
  assert image.shape == (32, 32, 3) and masks.shape == (1, 32, 32)
  np.testing.assert_array_equal(shape.numpy(), [8, 32, 3])


def test_fixed_shape_nearest_and_grayscale():
  fn = _build("fixed_shape_resizer { height: 6 width: 8 resize_method: NEAREST_NEIGHBOR "
              "convert_to_grayscale: true }")
  image, masks, shape = fn(tf.ones([3, 4, 3]))
  assert image.shape == (6, 8, 1) and masks is None
  np.testing.assert_array_equal(shape.numpy(), [6, 8, 1])


def test_identity_and_pad_to_multiple():
  _, _, shape = _build("identity_resizer {}")(tf.ones([5, 7, 3]))
  np.testing.assert_array_equal(shape.numpy(), [5, 7, 3])
  image, _, shape = _build("pad_to_multiple_resizer { multiple: 4 }")(tf.ones([5, 7, 3]))
  assert image.shape == (8, 8, 3)
  np.testing.assert_array_equal(shape.numpy(), [5, 7, 3])


def test_conditional_shape_resizer():
  fn = _build("conditional_shape_resizer { condition: SMALLER size_threshold: 10 }")
  _, _, shape = fn(tf.ones([5, 8, 3]))
  np.testing.assert_array_equal(shape.numpy(), [10, 16, 3])


@pytest.mark.parametrize("text,match", [
    ("", "no image resizer is set"),
    ("keep_aspect_ratio_resizer { min_dimension: 64 max_dimension: 32 }", "min_dimension"),
    ("fixed_shape_resizer { height: 0 }", "height: must be positive"),
])
def test_errors(text, match):
  with pytest.raises(ConfigError, match=match):
    _build(text)
