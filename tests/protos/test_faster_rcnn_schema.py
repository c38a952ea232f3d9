"""Schema part B (faster_rcnn, box_predictor, hyperparams, post_processing, anchors, ssd, ...):
the original's defaults and numbers that models rely on, and our DeepMAC-Mask-R-CNN additions."""

import pytest
from google.protobuf import text_format

from object_detection.protos import (box_predictor_pb2, faster_rcnn_pb2, hyperparams_pb2,
                                     model_pb2, post_processing_pb2)


def _field(message_cls, name):
  return message_cls.DESCRIPTOR.fields_by_name[name]


@pytest.mark.parametrize("name, number, default", [
    ("number_of_stages", 1, 2), ("first_stage_features_stride", None, None),
    ("first_stage_box_predictor_kernel_size", 9, 3), ("first_stage_box_predictor_depth", 10, 512),
    ("first_stage_minibatch_size", 11, 256), ("first_stage_positive_balance_fraction", 12, 0.5),
    ("first_stage_nms_iou_threshold", 14, pytest.approx(0.7)),
    ("first_stage_max_proposals", 15, 300), ("second_stage_batch_size", 22, 64),
    ("second_stage_balance_fraction", 23, 0.25),
    ("second_stage_mask_prediction_loss_weight", 27, 1.0), ("resize_masks", 36, True),
    ("use_partitioned_nms_in_first_stage", 38, True), ("output_final_box_rpn_features", 43, False),
    ("context_config", 41, None),
])
def test_faster_rcnn_original_numbers_and_defaults(name, number, default):
  if number is None:  # lives on the feature extractor message
    field = _field(faster_rcnn_pb2.FasterRcnnFeatureExtractor, name)
    assert (field.number, field.default_value) == (2, 16)
    return
  field = _field(faster_rcnn_pb2.FasterRcnn, name)
  assert field.number == number
  if default is not None:
    assert field.default_value == default


def test_our_faster_rcnn_fields_are_numbered_from_1000():
  use_gt = _field(faster_rcnn_pb2.FasterRcnn, "use_gt_boxes_for_masks")
  allowed = _field(faster_rcnn_pb2.FasterRcnn, "allowed_masked_classes_ids")
  assert (use_gt.number, use_gt.default_value) == (1000, False)
  assert allowed.number == 1001 and allowed.is_repeated
  msg = text_format.Parse("use_gt_boxes_for_masks: true allowed_masked_classes_ids: [1, 3]",
                          faster_rcnn_pb2.FasterRcnn())
  assert msg.use_gt_boxes_for_masks and list(msg.allowed_masked_classes_ids) == [1, 3]


def test_our_mask_head_fields():
  cls = box_predictor_pb2.MaskRCNNBoxPredictor
  assert [(_field(cls, n).number, _field(cls, n).default_value) for n in (
      "mask_head_network_type", "mask_head_num_filters", "mask_head_upsample_factor")] == [
          (1000, "default"), (1001, 0), (1002, 2)]
  # The original's mask head defaults.
  assert _field(cls, "mask_height").default_value == 15
  assert _field(cls, "mask_prediction_conv_depth").default_value == 256
  assert _field(cls, "mask_prediction_num_conv_layers").default_value == 2
  assert _field(cls, "predict_instance_masks").default_value is False


def test_hyperparams_and_post_processing_defaults():
  bn = hyperparams_pb2.BatchNorm()
  assert (bn.decay, bn.center, bn.scale, bn.train) == (pytest.approx(0.999), True, False, True)
  assert bn.epsilon == pytest.approx(0.001)
  assert hyperparams_pb2.Hyperparams().activation == hyperparams_pb2.Hyperparams.RELU
  assert _field(hyperparams_pb2.Hyperparams, "sync_batch_norm").number == 9
  nms = post_processing_pb2.BatchNonMaxSuppression()
  assert (nms.iou_threshold, nms.max_detections_per_class, nms.max_total_detections) == (
      pytest.approx(0.6), 100, 100)
  assert nms.change_coordinate_frame
  assert post_processing_pb2.PostProcessing().score_converter == 0  # IDENTITY


def test_fpn_multiscale_and_ssd_configs_parse():
  text = """
    faster_rcnn {
      feature_extractor { type: "faster_rcnn_resnet50_fpn_keras"
                          fpn { min_level: 2 max_level: 6 additional_layer_depth: 256 } }
      first_stage_anchor_generator { multiscale_anchor_generator {
          min_level: 2 max_level: 6 anchor_scale: 8.0 aspect_ratios: [0.5, 1.0, 2.0]
          scales_per_octave: 1 } }
      second_stage_box_predictor { mask_rcnn_box_predictor {
          predict_instance_masks: true mask_head_network_type: "hourglass52"
          mask_head_num_filters: 64 } }
      use_gt_boxes_for_masks: true
    }"""
  model = text_format.Parse(text, model_pb2.DetectionModel())
  frcnn = model.faster_rcnn
  assert frcnn.feature_extractor.fpn.min_level == 2
  assert frcnn.first_stage_anchor_generator.multiscale_anchor_generator.anchor_scale == 8.0
  box = frcnn.second_stage_box_predictor.mask_rcnn_box_predictor
  assert (box.mask_head_network_type, box.mask_head_num_filters) == ("hourglass52", 64)
  ssd = text_format.Parse("""ssd { num_classes: 90
      box_coder { faster_rcnn_box_coder { y_scale: 10.0 } }
      matcher { argmax_matcher { matched_threshold: 0.5 use_matmul_gather: true } }
      similarity_calculator { iou_similarity {} }
      anchor_generator { ssd_anchor_generator { num_layers: 6 min_scale: 0.2 } }
      feature_extractor { type: "ssd_mobilenet_v2_keras" fpn { min_level: 3 } }
      box_predictor { weight_shared_convolutional_box_predictor { depth: 256
          score_converter: SIGMOID } }
      post_processing { score_converter: SIGMOID }
      loss { classification_loss { weighted_sigmoid_focal { alpha: 0.25 gamma: 2.0 } }
             localization_loss { weighted_smooth_l1 {} } }
    }""", model_pb2.DetectionModel())
  assert ssd.WhichOneof("model") == "ssd"
  assert ssd.ssd.matcher.argmax_matcher.use_matmul_gather
  assert ssd.ssd.feature_extractor.WhichOneof("feature_pyramid_oneof") == "fpn"
