"""COCO evaluators vs hand-computed AP, pycocotools directly, and the supervised/novel split."""

import numpy as np
import pytest
from pycocotools import coco as coco_api
from pycocotools import cocoeval

from object_detection.builders import eval_builder
from object_detection.core.errors import ConfigError
from object_detection.eval import metrics
from object_detection.protos import eval_pb2

CATEGORIES = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "cow"}]
# COCO 101-point AP of [TP 0.9, FP 0.8, TP 0.7] on 2 GT: recall<=0.5 -> 1, recall>0.5 -> 2/3.
AP_TP_FP_TP = (51 * 1.0 + 50 * (2.0 / 3.0)) / 101


def _mask(box, size=64):
  m = np.zeros((size, size), np.uint8)
  m[int(box[0]):int(box[2]), int(box[1]):int(box[3])] = 1
  return m


def _image_data():
  """Image 1: cat perfect; dog TP(0.9) FP(0.8) TP(0.7); cow GT never detected."""
  gt_boxes = np.array([[2, 2, 20, 20], [30, 30, 50, 50], [4, 40, 24, 60], [40, 4, 60, 24]],
                      np.float32)
  gt_classes = np.array([1, 2, 2, 3])
  det_boxes = np.array([[2, 2, 20, 20], [30, 30, 50, 50], [0, 0, 8, 8], [4, 40, 24, 60]],
                       np.float32)
  det_scores = np.array([0.95, 0.9, 0.8, 0.7], np.float32)
  det_classes = np.array([1, 2, 2, 2])
  gt = {"groundtruth_boxes": gt_boxes, "groundtruth_classes": gt_classes,
        "groundtruth_instance_masks": np.stack([_mask(b) for b in gt_boxes])}
  det = {"detection_boxes": det_boxes, "detection_scores": det_scores,
         "detection_classes": det_classes,
         "detection_masks": np.stack([_mask(b) for b in det_boxes])}
  return gt, det


def _eval_config(metrics_set, include_metrics_per_category=False, super_categories=None):
  return eval_pb2.EvalConfig(metrics_set=metrics_set,
                             include_metrics_per_category=include_metrics_per_category,
                             super_categories=super_categories or {})


def _eval(name, eval_config=None, supervised=None, extra_image=False):
  """Evaluates the hand-made image with the `name` evaluator, built from an EvalConfig."""
  options = vars(eval_config) if eval_config else {}
  [ev] = eval_builder.build_evaluators(_eval_config([name], **options), CATEGORIES, supervised)
  gt, det = _image_data()
  ev.add_single_ground_truth_image_info("img1", gt)
  ev.add_single_detected_image_info("img1", det)
  if extra_image:  # an image without ground truth or detections must not change anything
    ev.add_single_ground_truth_image_info("empty", {
        "groundtruth_boxes": np.zeros((0, 4)), "groundtruth_classes": np.zeros((0,), np.int32),
        "groundtruth_instance_masks": np.zeros((0, 64, 64), np.uint8)})
    ev.add_single_detected_image_info("empty", {
        "detection_boxes": np.zeros((0, 4)), "detection_scores": np.zeros((0,)),
        "detection_classes": np.zeros((0,)), "detection_masks": np.zeros((0, 64, 64), np.uint8)})
  return ev.evaluate()


class _Cfg:
  def __init__(self):
    self.include_metrics_per_category = True
    self.super_categories = {"pets": "cat,dog", "farm": "cow"}


@pytest.mark.parametrize("name,prefix", [("coco_detection_metrics", "DetectionBoxes"),
                                         ("coco_mask_metrics", "DetectionMasks")])
def test_hand_computed_ap_per_category_and_super_categories(name, prefix):
  m = _eval(name, _Cfg(), extra_image=True)
  assert m[f"{prefix}_PerformanceByCategory/mAP/cat"] == pytest.approx(1.0)
  assert m[f"{prefix}_PerformanceByCategory/mAP/dog"] == pytest.approx(AP_TP_FP_TP, abs=1e-6)
  assert m[f"{prefix}_PerformanceByCategory/mAP/cow"] == pytest.approx(0.0)
  assert m[f"{prefix}_Precision/mAP"] == pytest.approx((1 + AP_TP_FP_TP) / 3, abs=1e-6)
  assert m[f"{prefix}_PerformanceBySuperCategory/pets"] == pytest.approx(
      (1 + AP_TP_FP_TP) / 2, abs=1e-6)
  assert m[f"{prefix}_PerformanceBySuperCategory/farm"] == pytest.approx(0.0)


def test_mask_supervised_vs_novel_split_hand_count():
  # supervised {cat, dog}: mean(1, AP_dog); novel {cow}: 0 (its GT is never found).
  m = _eval("coco_mask_metrics", supervised=[1, 2])
  assert m["DetectionMasks_MaskSupervised/Precision/mAP"] == pytest.approx(
      (1 + AP_TP_FP_TP) / 2, abs=1e-6)
  assert m["DetectionMasks_Novel/Precision/mAP"] == pytest.approx(0.0)
  m = _eval("coco_mask_metrics", supervised=[2])
  assert m["DetectionMasks_MaskSupervised/Precision/mAP"] == pytest.approx(AP_TP_FP_TP, abs=1e-6)
  assert m["DetectionMasks_Novel/Precision/mAP"] == pytest.approx(0.5)  # mean(cat 1, cow 0)
  assert "DetectionMasks_Novel/Precision/mAP" not in _eval("coco_mask_metrics")


def test_matches_pycocotools_directly():
  gt, det = _image_data()
  ours = _eval("coco_detection_metrics")
  gt_json = {"images": [{"id": 1}], "categories": CATEGORIES, "annotations": [
      {"id": i + 1, "image_id": 1, "category_id": int(c), "iscrowd": 0,
       "bbox": [float(b[1]), float(b[0]), float(b[3] - b[1]), float(b[2] - b[0])],
       "area": float((b[3] - b[1]) * (b[2] - b[0]))}
      for i, (b, c) in enumerate(zip(gt["groundtruth_boxes"], gt["groundtruth_classes"]))]}
  coco = coco_api.COCO()
  coco.dataset = gt_json
  coco.createIndex()
  dets = coco.loadRes([
      {"image_id": 1, "category_id": int(c), "score": float(s),
       "bbox": [float(b[1]), float(b[0]), float(b[3] - b[1]), float(b[2] - b[0])]}
      for b, s, c in zip(det["detection_boxes"], det["detection_scores"],
                         det["detection_classes"])])
  e = cocoeval.COCOeval(coco, dets, "bbox")
  e.evaluate(); e.accumulate(); e.summarize()
  assert ours["DetectionBoxes_Precision/mAP"] == pytest.approx(e.stats[0])
  assert ours["DetectionBoxes_Precision/mAP@.50IOU"] == pytest.approx(e.stats[1])
  assert ours["DetectionBoxes_Recall/AR@100"] == pytest.approx(e.stats[8])


def test_no_detections_gives_zero_and_errors_are_clear():
  ev = metrics.coco_detection_metrics(CATEGORIES)
  gt, _ = _image_data()
  ev.add_single_ground_truth_image_info(1, gt)
  ev.add_single_detected_image_info(1, {"detection_boxes": np.zeros((0, 4)),
                                        "detection_scores": np.zeros(0),
                                        "detection_classes": np.zeros(0)})
  assert ev.evaluate()["DetectionBoxes_Precision/mAP"] == 0.0
  with pytest.raises(ConfigError, match="allowed_masked_classes_ids"):
    eval_builder.build_evaluators(_eval_config(["coco_mask_metrics"]), CATEGORIES,
                                  mask_supervised_class_ids=[7])
  with pytest.raises(ConfigError, match="super_categories"):
    eval_builder.build_evaluators(_eval_config(["coco_mask_metrics"],
                                               super_categories={"x": "horse"}), CATEGORIES)
  with pytest.raises(ConfigError, match="did you mean"):
    eval_builder.build_evaluators(_eval_config(["coco_mask_metric"]), CATEGORIES)


def test_lvis_mask_metrics_on_the_hand_made_image():
  m = _eval("lvis_mask_metrics")
  # LVIS averages per-category AP over categories with ground truth: cat 1, dog, cow 0.
  assert m["DetectionMasks_AP"] == pytest.approx((1 + AP_TP_FP_TP) / 3, abs=1e-6)
  assert m["DetectionMasks_APf"] == pytest.approx(m["DetectionMasks_AP"])
