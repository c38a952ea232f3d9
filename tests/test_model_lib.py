"""Which classes count as mask-supervised for the eval split, per meta-architecture: the built
model says (model_lib hands `model.mask_supervised_class_ids` to the evaluators)."""

from google.protobuf import text_format

from object_detection.builders import model_builder
from object_detection.protos import model_pb2

CENTER_NET = """center_net {
  num_classes: 3
  feature_extractor { type: "hourglass_10" }
  image_resizer { fixed_shape_resizer { height: 32 width: 32 } }
  object_center_params { max_box_predictions: 2 center_head_params { num_filters: [4]
                                                                     kernel_sizes: [3] } }
  %s
}"""
DEEPMAC = ('deepmac_mask_estimation { dim: 4 pixel_embedding_dim: 4 mask_size: 8 '
           'network_type: "resnet4" num_init_channels: 4 %s }')
FASTER_RCNN = """faster_rcnn {
  number_of_stages: 2
  num_classes: 5
  image_resizer { fixed_shape_resizer { height: 64 width: 64 } }
  feature_extractor { type: 'faster_rcnn_resnet50_fpn_keras'
                      fpn { min_level: 2 max_level: 6 additional_layer_depth: 8 } }
  first_stage_anchor_generator {
    multiscale_anchor_generator { min_level: 2 max_level: 6 anchor_scale: 2.0
                                  aspect_ratios: [1.0] scales_per_octave: 1 } }
  first_stage_box_predictor_depth: 8
  initial_crop_size: 4
  maxpool_kernel_size: 1
  maxpool_stride: 1
  second_stage_box_predictor { mask_rcnn_box_predictor { } }
  second_stage_post_processing { batch_non_max_suppression { } score_converter: SOFTMAX }
  %s
}"""


def _model(text):
  return model_builder.build(text_format.Parse(text, model_pb2.DetectionModel()), True)


def test_deepmac_allowed_ids():
  model = _model(CENTER_NET % (DEEPMAC % "allowed_masked_classes_ids: [1, 3]"))
  assert model.mask_supervised_class_ids == [1, 3]


def test_center_net_without_masks_and_empty_list_mean_all():
  assert _model(CENTER_NET % "").mask_supervised_class_ids is None
  assert _model(CENTER_NET % (DEEPMAC % "")).mask_supervised_class_ids is None


def test_faster_rcnn_allowed_ids():
  model = _model(FASTER_RCNN % "allowed_masked_classes_ids: [2, 4]")
  assert model.mask_supervised_class_ids == [2, 4]
  assert _model(FASTER_RCNN % "").mask_supervised_class_ids is None
