"""preprocessor_builder: the DeepMAC configs' steps build and run; unsupported steps fail early."""

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import preprocessor_builder
from object_detection.core.errors import ConfigError
from object_detection.core.fields import InputDataFields as F
from object_detection.protos import preprocessor_pb2, train_pb2

DEEPMAC_AUGMENTATIONS = """
  data_augmentation_options { random_horizontal_flip {} }
  data_augmentation_options { random_adjust_hue {} }
  data_augmentation_options { random_adjust_contrast {} }
  data_augmentation_options { random_adjust_saturation {} }
  data_augmentation_options { random_adjust_brightness {} }
  data_augmentation_options { random_square_crop_by_scale { scale_min: 0.6 scale_max: 1.3 } }
"""


def _example():
  return {F.image: tf.random.stateless_uniform([16, 16, 3], [1, 2], maxval=255.0),
          F.groundtruth_boxes: tf.constant([[0.25, 0.25, 0.75, 0.75]]),
          F.groundtruth_classes: tf.constant([1]),
          F.groundtruth_instance_masks: tf.ones([1, 16, 16], tf.uint8)}


def test_deepmac_steps_build_and_run_in_tf_data():
  config = text_format.Parse(DEEPMAC_AUGMENTATIONS, train_pb2.TrainConfig())
  fn = preprocessor_builder.build_all(config.data_augmentation_options)
  ds = tf.data.Dataset.from_tensors(_example()).repeat(4).map(lambda d: fn(d, [1, 2]))
  for out in ds:
    size = out[F.image].shape[0]
    assert out[F.image].shape == (size, size, 3)
    assert out[F.groundtruth_instance_masks].shape[1:] == (size, size)
    assert out[F.groundtruth_boxes].shape[0] == out[F.groundtruth_classes].shape[0]


def test_step_parameters_are_read():
  step = text_format.Parse("random_horizontal_flip { probability: 1.0 }",
                           preprocessor_pb2.PreprocessingStep())
  out = preprocessor_builder.build(step)(_example(), tf.constant([0, 0]))
  np.testing.assert_allclose(out[F.groundtruth_boxes].numpy(), [[0.25, 0.25, 0.75, 0.75]])
  ex = _example()
  ex[F.groundtruth_boxes] = tf.constant([[0.0, 0.0, 0.5, 0.25]])
  out = preprocessor_builder.build(step)(ex, tf.constant([0, 0]))
  np.testing.assert_allclose(out[F.groundtruth_boxes].numpy(), [[0.0, 0.75, 0.5, 1.0]])


def test_jitter_mode_enum_is_mapped():
  step = text_format.Parse("random_jitter_boxes { ratio: 0.0 jitter_mode: SHRINK_SYMMETRIC_XY }",
                           preprocessor_pb2.PreprocessingStep())
  out = preprocessor_builder.build(step)(_example(), tf.constant([0, 0]))
  np.testing.assert_allclose(out[F.groundtruth_boxes].numpy(), [[0.25, 0.25, 0.75, 0.75]],
                             atol=1e-6)


def test_unsupported_step_fails_at_build_time_listing_supported():
  step = text_format.Parse("ssd_random_crop {}", preprocessor_pb2.PreprocessingStep())
  with pytest.raises(ConfigError, match=r"ssd_random_crop.*not supported.*random_crop_image"):
    preprocessor_builder.build(step)


def test_bad_pad_image_config():
  step = text_format.Parse("random_pad_image { min_image_height: 10 }",
                           preprocessor_pb2.PreprocessingStep())
  with pytest.raises(ConfigError, match="min_image_height and min_image_width"):
    preprocessor_builder.build(step)


def test_every_reference_config_builds_its_augmentations_and_resizer(shared_dir):
  from object_detection.builders import image_resizer_builder  # pylint: disable=import-outside-toplevel
  from object_detection.protos import pipeline_pb2  # pylint: disable=import-outside-toplevel
  from object_detection.utils import config_util  # pylint: disable=import-outside-toplevel
  paths = sorted((shared_dir / "reference_configs").glob("*.config"))
  assert len(paths) >= 6
  for path in paths:
    config = text_format.Parse(path.read_text(), pipeline_pb2.TrainEvalPipelineConfig())
    fn = preprocessor_builder.build_all(config.train_config.data_augmentation_options)
    out = fn(_example(), tf.constant([4, 2]))
    assert out[F.groundtruth_boxes].shape[0] == out[F.groundtruth_instance_masks].shape[0]
    resizer_config = config_util.get_image_resizer_config(config.model)
    image_resizer_builder.build(resizer_config)
    assert tuple(config_util.get_spatial_image_size(resizer_config)) in (
        (512, 512), (640, 640), (1024, 1024)), path.name


def test_every_registered_step_builds_from_its_default_message_and_runs():
  from object_detection.core.registries import AUGMENTATIONS  # pylint: disable=import-outside-toplevel
  names = AUGMENTATIONS.names()
  assert len(names) >= 25
  required = {"resize_image": "new_height: 8 new_width: 8",
               "random_resize_method": "target_height: 8 target_width: 8"}
  for name in names:
    step = text_format.Parse(f"{name} {{ {required.get(name, '')} }}",
                             preprocessor_pb2.PreprocessingStep())
    out = preprocessor_builder.build(step)(_example(), tf.constant([1, 1]))
    assert out[F.groundtruth_boxes].shape[0] == out[F.groundtruth_classes].shape[0], name
    assert out[F.groundtruth_instance_masks].shape[1:] == out[F.image].shape[:2], name


@pytest.mark.parametrize("text,match", [
    ("random_crop_pad_image { min_padded_size_ratio: 1.0 }", "min_padded_size_ratio: needs 2"),
    ("random_jpeg_quality { min_jpeg_quality: 90 max_jpeg_quality: 10 }", "min_jpeg_quality"),
    ("random_black_patches { size_to_image_ratio: 1.5 }", "size_to_image_ratio"),
    ("random_distort_color { color_ordering: 2 }", "color_ordering"),
    ("random_pad_image { pad_color: [1, 2] }", "pad_color: needs 3 values"),
    ("resize_image {}", "new_height and new_width must be > 0"),
])
def test_bad_step_values(text, match):
  step = text_format.Parse(text, preprocessor_pb2.PreprocessingStep())
  with pytest.raises(ConfigError, match=match):
    preprocessor_builder.build(step)
