"""deepmac_builder: DeepMACMaskEstimation -> DeepMACTask arguments, errors, tiny model build."""

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import center_net_builder
from object_detection.builders import deepmac_builder
from object_detection.core import registries
from object_detection.core.errors import ConfigError
from object_detection.core.problems import Problems
from object_detection.losses import classification
from object_detection.protos import center_net_pb2


def _deepmac(text):
  message = center_net_pb2.CenterNet.DeepMACMaskEstimation()
  text_format.Merge(text, message)   # a later value of a field wins
  return message


def _translate(message, num_classes=90):
  problems = Problems()
  args = deepmac_builder.translate(message, num_classes, problems)
  assert problems.lines == []
  return args


def test_defaults_are_the_protos():
  args = _translate(_deepmac(
      "box_consistency_loss_weight: 1 color_consistency_loss_weight: 1 "
      "augmented_self_supervision_loss_weight: 1"))
  task = args.task
  assert task["classification_loss"] is classification.weighted_sigmoid
  assert (task["dim"], task["pixel_embedding_dim"], task["mask_size"]) == (256, 16, 32)
  assert args.network is registries.DEEPMAC_MASK_NETWORKS.get("hourglass52")
  assert task["use_xy"] and args.mask_net["use_instance_embedding"]
  assert task["roi_jitter_mode"] == "default"
  assert task["box_consistency"].normalize == "normalize_auto"
  assert task["self_supervision"].loss == "loss_dice"
  assert task["color_consistency"].threshold == pytest.approx(0.4)
  assert task["allowed_masked_classes_ids"] == ()


def test_weak_losses_are_off_at_weight_zero():
  task = _translate(_deepmac("")).task
  assert (task["box_consistency"], task["color_consistency"], task["self_supervision"]) == (
      None, None, None)


def test_reference_config_fields_and_enums():
  args = _translate(_deepmac("""
      classification_loss { weighted_dice_classification_loss { squared_normalization: true } }
      dim: 32 task_loss_weight: 5.0 pixel_embedding_dim: 16 mask_size: 32 use_xy: true
      use_instance_embedding: true network_type: "hourglass100"
      allowed_masked_classes_ids: [1, 2, 3] jitter_mode: EXPAND_SYMMETRIC_XY
      max_roi_jitter_ratio: 0.1 box_consistency_loss_normalize: NORMALIZE_BALANCED
      augmented_self_supervision_loss: LOSS_KL_DIV use_only_last_stage: true
      box_consistency_loss_weight: 1 augmented_self_supervision_loss_weight: 1"""))
  task = args.task
  assert task["classification_loss"].func is classification.weighted_dice
  assert task["classification_loss"].keywords["squared_normalization"]
  assert task["task_loss_weight"] == 5.0 and task["dim"] == 32
  assert task["allowed_masked_classes_ids"] == (1, 2, 3)
  assert task["roi_jitter_mode"] == "expand_symmetric_xy"
  assert task["box_consistency"].normalize == "normalize_balanced"
  assert task["self_supervision"].loss == "loss_kl_div"
  assert task["use_only_last_stage"]
  assert args.network is registries.DEEPMAC_MASK_NETWORKS.get("hourglass100")


@pytest.mark.parametrize("text,match", [
    ('network_type: "hourglass53"', r'network_type.*did you mean "hourglass52"'),
    ("classification_loss { weighted_softmax {} }", r"classification_loss.*weighted_softmax"),
    ("predict_full_resolution_masks: true max_roi_jitter_ratio: 0.2", "max_roi_jitter_ratio"),
    ('network_type: "embedding_projection" use_instance_embedding: false', "use_xy"),
    ("mask_num_subsamples: 10", "mask_num_subsamples"),
])
def test_errors_name_the_field(text, match):
  with pytest.raises(ConfigError, match=match):
    deepmac_builder.build_task(_deepmac(text), num_classes=3, num_feature_outputs=1)


def test_build_small_model_from_a_config():
  center_net = center_net_pb2.CenterNet()
  text_format.Parse("""
      num_classes: 2
      feature_extractor { type: "hourglass_10" }
      image_resizer { fixed_shape_resizer { height: 32 width: 32 } }
      object_center_params { object_center_loss_weight: 1.0 max_box_predictions: 2
        center_head_params { num_filters: [8] kernel_sizes: [3] } }
      object_detection_task { scale_loss_weight: 0.1
        scale_head_params { num_filters: [8] kernel_sizes: [3] }
        offset_head_params { num_filters: [8] kernel_sizes: [3] } }
      deepmac_mask_estimation { dim: 4 pixel_embedding_dim: 4 mask_size: 8
        network_type: "resnet4" num_init_channels: 4 allowed_masked_classes_ids: [2] }
  """, center_net)
  model = center_net_builder.build(center_net, is_training=True)
  assert type(model).__name__ == "DeepMACMetaArch"
  assert model.deepmac_task.allowed_masked_classes_ids == (2,)
  masks = model.predict_masks_from_boxes(tf.zeros([1, 40, 24, 3]),
                                         tf.constant([[[0.1, 0.1, 0.9, 0.9]]]))
  assert masks.shape == (1, 1, 8, 8)
  assert np.all(np.isfinite(masks.numpy()))


BASE = ('network_type: "resnet4" dim: 4 pixel_embedding_dim: 4 num_init_channels: 4 '
        'mask_size: 4 task_loss_weight: 2.0 ')


@pytest.mark.parametrize("text", [
    "predict_full_resolution_masks: true max_roi_jitter_ratio: 0.1",
    'network_type: "embedding_projection" use_instance_embedding: false',
    'network_type: "cond_inst2" use_instance_embedding: false dim: 5',
    "mask_num_subsamples: 3",
    "pointly_supervised_keypoint_loss_weight: 1.0",
    "pointly_supervised_keypoint_loss_weight: 1.0 predict_full_resolution_masks: true",
    'network_type: "fully_connected" predict_full_resolution_masks: true',
    "allowed_masked_classes_ids: [1, 1]",
    "allowed_masked_classes_ids: [1, 7]",
    'network_type: "cond_inst1" use_instance_embedding: false dim: 5 num_init_channels: 4',
    "augmented_self_supervision_scale_min: 2.0",
])
def test_invalid_combinations_fail_alike_at_load_and_build(text):
  """One rule, one text: load-time validation (translate) and the build report the same lines."""
  problems = Problems()
  deepmac_builder.translate(_deepmac(BASE + text), 3, problems)
  assert problems.lines and all(
      line.startswith("model.center_net.deepmac_mask_estimation.") for line in problems.lines)
  with pytest.raises(ConfigError) as info:
    deepmac_builder.build_task(_deepmac(BASE + text), num_classes=3, num_feature_outputs=1)
  assert str(info.value) == "\n".join(problems.lines)


def test_allowed_ids_beyond_num_classes_is_a_config_error():
  with pytest.raises(ConfigError, match="allowed_masked_classes_ids.*expected ids in 1..3"):
    deepmac_builder.build_task(_deepmac(BASE + "allowed_masked_classes_ids: [1, 7]"),
                               num_classes=3, num_feature_outputs=1)
