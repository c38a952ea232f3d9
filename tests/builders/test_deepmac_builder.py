"""deepmac_builder: DeepMACMaskEstimation -> DeepMACParams, errors, tiny model build."""

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import deepmac_builder
from object_detection.core.errors import ConfigError
from object_detection.protos import center_net_pb2


def _deepmac(text):
  message = center_net_pb2.CenterNet.DeepMACMaskEstimation()
  text_format.Parse(text, message)
  return message


def test_defaults_are_the_protos():
  params = deepmac_builder.deepmac_params(_deepmac(""))
  assert params.classification_loss == "weighted_sigmoid"
  assert (params.dim, params.pixel_embedding_dim, params.mask_size) == (256, 16, 32)
  assert params.network_type == "hourglass52" and params.use_xy and params.use_instance_embedding
  assert params.roi_jitter_mode == "default"
  assert params.box_consistency_loss_normalize == "normalize_auto"
  assert params.augmented_self_supervision_loss == "loss_dice"
  assert params.color_consistency_threshold == pytest.approx(0.4)
  assert params.allowed_masked_classes_ids == ()


def test_reference_config_fields_and_enums():
  params = deepmac_builder.deepmac_params(_deepmac("""
      classification_loss { weighted_dice_classification_loss { squared_normalization: true } }
      dim: 32 task_loss_weight: 5.0 pixel_embedding_dim: 16 mask_size: 32 use_xy: true
      use_instance_embedding: true network_type: "hourglass100"
      allowed_masked_classes_ids: [1, 2, 3] jitter_mode: EXPAND_SYMMETRIC_XY
      max_roi_jitter_ratio: 0.1 box_consistency_loss_normalize: NORMALIZE_BALANCED
      augmented_self_supervision_loss: LOSS_KL_DIV use_only_last_stage: true"""))
  assert params.classification_loss == "weighted_dice_classification_loss"
  assert params.dice_squared_normalization
  assert params.task_loss_weight == 5.0 and params.dim == 32
  assert params.allowed_masked_classes_ids == (1, 2, 3)
  assert params.roi_jitter_mode == "expand_symmetric_xy"
  assert params.box_consistency_loss_normalize == "normalize_balanced"
  assert params.augmented_self_supervision_loss == "loss_kl_div"
  assert params.use_only_last_stage and params.mask_input_channels == 50


@pytest.mark.parametrize("text,match", [
    ('network_type: "hourglass53"', r'network_type.*did you mean "hourglass52"'),
    ("classification_loss { weighted_softmax {} }", r"classification_loss.*weighted_softmax"),
    ("predict_full_resolution_masks: true max_roi_jitter_ratio: 0.2", "max_roi_jitter_ratio"),
    ('network_type: "embedding_projection" use_instance_embedding: false', "use_xy"),
    ("mask_num_subsamples: 10", "mask_num_subsamples"),
])
def test_errors_name_the_field(text, match):
  center_net = center_net_pb2.CenterNet()
  center_net.num_classes = 3
  center_net.deepmac_mask_estimation.CopyFrom(_deepmac(text))
  with pytest.raises(ConfigError, match=match):
    deepmac_builder.build_deepmac_task(center_net, is_training=True, num_outputs=1)


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
  model = deepmac_builder.build(center_net, is_training=True)
  assert type(model).__name__ == "DeepMACMetaArch"
  assert model.deepmac_task.params.allowed_masked_classes_ids == (2,)
  masks = model.predict_masks_from_boxes(tf.zeros([1, 40, 24, 3]),
                                         tf.constant([[[0.1, 0.1, 0.9, 0.9]]]))
  assert masks.shape == (1, 1, 8, 8)
  assert np.all(np.isfinite(masks.numpy()))
