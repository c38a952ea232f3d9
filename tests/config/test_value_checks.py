"""Non-finite and out-of-range numbers are rejected at load with the field path (issue #15).

Before: `channel_means: nan`, `inf` loss weights, NaN thresholds or aspect ratios loaded silently
and produced non-finite losses and detections.
"""

import pathlib

import pytest
from google.protobuf import descriptor

from object_detection.config import loader, value_checks
from object_detection.core.errors import ConfigError
from object_detection.protos import pipeline_pb2

REPO = pathlib.Path(__file__).resolve().parents[2]
CENTER = "model.center_net"
COSINE = "train_config.optimizer.adam_optimizer.learning_rate.cosine_decay_learning_rate"


def test_shipped_configs_have_no_value_problems(shared_dir):
  paths = sorted((REPO / "configs" / "tf2").glob("*.config"))
  paths += sorted((shared_dir / "reference_configs").glob("*.config"))
  assert len(paths) >= 12
  for path in paths:
    assert value_checks.check(loader.load_pipeline_config(path, validate=False)) == [], path


def test_nan_channel_mean_in_a_file_names_file_and_field(deepmac_text, write_config):
  path = write_config(deepmac_text.replace("[104.0, 114.0, 120.0]", "[104.0, nan, 120.0]"))
  with pytest.raises(ConfigError) as e:
    loader.load_pipeline_config(path)
  assert str(e.value) == (
      f"{path}: {CENTER}.feature_extractor.channel_means[1]: not a finite number "
      "(got nan; expected a finite float)")


def test_float32_overflow_is_infinite(deepmac_text, write_config):
  path = write_config(deepmac_text.replace("object_center_loss_weight: 1.0",
                                           "object_center_loss_weight: 1e39"))
  with pytest.raises(ConfigError, match=r"object_center_params.object_center_loss_weight: not a "
                     r"finite number \(got inf; expected a finite float, >= 0, a loss weight\)"):
    loader.load_pipeline_config(path)


@pytest.mark.parametrize("override, message", [
    (f"{CENTER}.object_center_params.object_center_loss_weight=-inf",
     "object_center_loss_weight: not a finite number (got -inf"),
    (f"{CENTER}.object_detection_task.scale_loss_weight=-0.5",
     "scale_loss_weight: out of range (got -0.5; expected >= 0, a loss weight)"),
    (f"{CENTER}.object_center_params.min_box_overlap_iou=nan",
     "min_box_overlap_iou: not a finite number (got nan"),
    (f"{CENTER}.object_center_params.min_box_overlap_iou=1.5",
     "min_box_overlap_iou: out of range (got 1.5; expected in (0, 1], an IoU threshold)"),
    (f"{COSINE}.learning_rate_base=0",
     "learning_rate_base: out of range (got 0; expected > 0, a learning rate)"),
    (f"{COSINE}.warmup_learning_rate=-1e-4",
     "warmup_learning_rate: out of range (got -0.0001; expected >= 0, a learning rate)"),
    ("train_config.optimizer.moving_average_decay=1.5",
     "moving_average_decay: out of range (got 1.5; expected in [0, 1], a decay/momentum factor)"),
    ("train_config.gradient_clipping_by_norm=inf", "gradient_clipping_by_norm: not a finite"),
    (f"{CENTER}.deepmac_mask_estimation.augmented_self_supervision_flip_probability=2",
     "flip_probability: out of range (got 2; expected in [0, 1], a probability)"),
    (f"{CENTER}.deepmac_mask_estimation.color_consistency_threshold=nan",
     "color_consistency_threshold: not a finite number (got nan; expected a finite float)"),
])
def test_bad_values_through_overrides(deepmac_text, write_config, override, message):
  with pytest.raises(ConfigError) as e:
    loader.load_pipeline_config(write_config(deepmac_text), overrides=[override])
  assert message in str(e.value)
  assert override.split("=")[0].rsplit(".", 1)[-1] in str(e.value)


def _pipeline(text):
  return loader.parse_pipeline_text(text)


def test_repeated_fields_get_indexed_paths():
  pipeline = _pipeline("""
    train_config {
      data_augmentation_options { random_horizontal_flip { probability: 0.5 } }
      data_augmentation_options { random_crop_image { random_coef: -0.1 overlap_thresh: 2 } }
      optimizer { momentum_optimizer { momentum_optimizer_value: 0.9 learning_rate {
        manual_step_learning_rate { initial_learning_rate: 0.01
          schedule { step: 10 learning_rate: 0.001 } schedule { step: 20 learning_rate: -1 } } } } }
    }
    model { faster_rcnn { first_stage_anchor_generator { grid_anchor_generator {
      aspect_ratios: [0.5, 0, 2.0] } } second_stage_post_processing {
      batch_non_max_suppression { iou_threshold: 1.01 score_threshold: nan } } } }
  """)
  assert value_checks.check(pipeline) == [
      "model.faster_rcnn.first_stage_anchor_generator.grid_anchor_generator.aspect_ratios[1]: "
      "out of range (got 0; expected > 0, a size or ratio)",
      "model.faster_rcnn.second_stage_post_processing.batch_non_max_suppression.score_threshold: "
      "not a finite number (got nan; expected a finite float)",
      "model.faster_rcnn.second_stage_post_processing.batch_non_max_suppression.iou_threshold: "
      "out of range (got 1.01; expected in [0, 1], an IoU threshold)",
      "train_config.data_augmentation_options[1].random_crop_image.overlap_thresh: out of range "
      "(got 2; expected in [0, 1], an IoU threshold)",
      "train_config.data_augmentation_options[1].random_crop_image.random_coef: out of range "
      "(got -0.1; expected in [0, 1], a probability)",
      "train_config.optimizer.momentum_optimizer.learning_rate.manual_step_learning_rate"
      ".schedule[1].learning_rate: out of range (got -1; expected >= 0, a learning rate)",
  ]


def test_map_values_are_checked():
  pipeline = _pipeline('model { center_net { keypoint_estimation_task { task_name: "k" '
                       'keypoint_label_to_std { key: "nose" value: inf } } } }')
  assert value_checks.check(pipeline) == [
      "model.center_net.keypoint_estimation_task[0].keypoint_label_to_std['nose']: not a finite "
      "number (got inf; expected a finite float)"]


def _float_fields(message_descriptor, seen, out):
  if message_descriptor.full_name in seen:
    return
  seen.add(message_descriptor.full_name)
  for field in message_descriptor.fields:
    if field.type in (descriptor.FieldDescriptor.TYPE_FLOAT, descriptor.FieldDescriptor.TYPE_DOUBLE):
      out.add((message_descriptor.full_name, field.name))
      out.add(field.name)
    elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
      _float_fields(field.message_type, seen, out)


def test_every_range_names_a_float_field_of_the_schema():
  known = set()
  _float_fields(pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR, set(), known)
  assert [key for key in value_checks.RANGES if key not in known] == []
