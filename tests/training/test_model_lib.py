"""Which classes count as mask-supervised for the eval split, per meta-architecture."""

from google.protobuf import text_format

from object_detection.protos import model_pb2
from object_detection.training import model_lib


def _model(text):
  return text_format.Parse(text, model_pb2.DetectionModel())


def test_deepmac_allowed_ids():
  cfg = _model("center_net { num_classes: 3 deepmac_mask_estimation "
               "{ allowed_masked_classes_ids: [1, 3] } }")
  assert model_lib.mask_supervised_class_ids(cfg) == [1, 3]


def test_center_net_without_masks_and_empty_list_mean_all():
  assert model_lib.mask_supervised_class_ids(_model("center_net { num_classes: 3 }")) is None
  assert model_lib.mask_supervised_class_ids(
      _model("center_net { num_classes: 3 deepmac_mask_estimation { dim: 8 } }")) is None


def test_faster_rcnn_allowed_ids():
  cfg = _model("faster_rcnn { num_classes: 5 allowed_masked_classes_ids: [2, 4] }")
  assert model_lib.mask_supervised_class_ids(cfg) == [2, 4]
  assert model_lib.mask_supervised_class_ids(_model("faster_rcnn { num_classes: 5 }")) is None
