"""Evaluators named by `eval_config.metrics_set`, registered in `EVAL_METRICS`.

  coco_detection_metrics -> CocoEvaluator(iou_type="bbox"), keys `DetectionBoxes_*`
  coco_mask_metrics      -> CocoEvaluator(iou_type="segm"), keys `DetectionMasks_*`
  lvis_mask_metrics      -> LvisMaskEvaluator (the optional lvis package, imported only when
                            this metrics set is built), keys `DetectionMasks_*`

Registry entries are called `fn(categories, include_metrics_per_category=False,
super_categories=None, mask_supervised_class_ids=None)`: `categories` is a list of {"id": 1-based
int, "name": str}; `super_categories` maps a name to a list of class names. The EvalConfig
message becomes these arguments in builders/eval_builder.py.

Evaluator interface (the original's method names):
  add_single_ground_truth_image_info(image_id, groundtruth)   # numpy dict, see below
  add_single_detected_image_info(image_id, detections)
  evaluate() -> {metric name: float}
  clear()
Ground truth dict: groundtruth_boxes [N,4] float ABSOLUTE [ymin,xmin,ymax,xmax] of the original
image, groundtruth_classes [N] int 1-based, optional groundtruth_is_crowd [N],
groundtruth_area [N], groundtruth_instance_masks [N,H,W] uint8 (required for masks).
Detections: detection_boxes [K,4] absolute, detection_scores [K], detection_classes [K] 1-based,
detection_masks [K,H,W] uint8 binary at the original size (required for masks).

Class split (the DeepMAC paper's number): when `mask_supervised_class_ids` (the model's
`allowed_masked_classes_ids`, 1-based) is given and non-empty, the summary is also computed over
the supervised classes only (`<prefix>_MaskSupervised/Precision/mAP`, ...) and over the other,
novel classes (`<prefix>_Novel/Precision/mAP`, ...), each by a COCOeval restricted to those
categories (= mean per-category AP over the split).
"""

import numpy as np

from object_detection.core.registries import EVAL_METRICS
from object_detection.eval import coco_tools

SUPERVISED = "MaskSupervised"
NOVEL = "Novel"


class CocoEvaluator:
  """COCO box ("bbox") or mask ("segm") evaluation over a whole eval set."""

  def __init__(self, categories, iou_type="bbox", include_metrics_per_category=False,
               super_categories=None, mask_supervised_class_ids=None):
    if iou_type not in ("bbox", "segm"):
      raise ValueError(f"CocoEvaluator: unknown iou_type (got {iou_type!r}; expected bbox, segm)")
    self._categories = [{"id": int(c["id"]), "name": str(c["name"])} for c in categories]
    self._iou_type = iou_type
    self._prefix = "DetectionBoxes" if iou_type == "bbox" else "DetectionMasks"
    self._per_category = bool(include_metrics_per_category)
    self._super_categories = dict(super_categories or {})
    unknown = unknown_super_category_members(self._categories, self._super_categories)
    if unknown:
      raise ValueError(f"CocoEvaluator: super_categories name unknown classes (got {unknown}; "
                       "expected names of `categories`)")
    self._supervised = (sorted(int(i) for i in mask_supervised_class_ids)
                        if mask_supervised_class_ids else None)
    bad = ids_not_in_categories(self._categories, self._supervised or ())
    if bad:
      raise ValueError(f"CocoEvaluator: mask_supervised_class_ids not in categories (got {bad}; "
                       f"expected ids among {sorted(c['id'] for c in self._categories)})")
    self.clear()

  @property
  def needs_masks(self):
    """True when images must come with pasted detection masks and ground-truth masks."""
    return self._iou_type == "segm"

  def clear(self):
    self._images, self._groundtruth, self._detections = [], [], []
    self._seen_gt, self._seen_det = set(), set()

  def add_single_ground_truth_image_info(self, image_id, groundtruth):
    """Adds one image's ground truth (ignored when the image was already added)."""
    if image_id in self._seen_gt:
      return
    masks = groundtruth.get("groundtruth_instance_masks")
    if self._iou_type == "segm" and masks is None:
      raise ValueError(f"coco_mask_metrics: image {image_id!r} has no groundtruth_instance_masks")
    self._seen_gt.add(image_id)
    image = {"id": image_id}
    if masks is not None:  # pycocotools reads the image size to decode RLE
      image["height"], image["width"] = (int(d) for d in np.shape(masks)[1:3])
    self._images.append(image)
    self._groundtruth += coco_tools.groundtruth_annotations(
        image_id, np.asarray(groundtruth["groundtruth_boxes"]).reshape(-1, 4),
        np.asarray(groundtruth["groundtruth_classes"]).reshape(-1),
        masks=masks if self._iou_type == "segm" else None,
        is_crowd=groundtruth.get("groundtruth_is_crowd"),
        areas=groundtruth.get("groundtruth_area"),
        first_annotation_id=len(self._groundtruth) + 1)

  def add_single_detected_image_info(self, image_id, detections):
    """Adds one image's detections (after its ground truth; duplicates ignored)."""
    if image_id not in self._seen_gt:
      raise ValueError(f"{self._prefix}: detections for image {image_id!r} before its ground truth")
    if image_id in self._seen_det:
      return
    masks = detections.get("detection_masks")
    if self._iou_type == "segm" and masks is None:
      raise ValueError(f"coco_mask_metrics: image {image_id!r} has no detection_masks")
    self._seen_det.add(image_id)
    self._detections += coco_tools.detection_annotations(
        image_id, np.asarray(detections["detection_boxes"]).reshape(-1, 4),
        np.asarray(detections["detection_scores"]).reshape(-1),
        np.asarray(detections["detection_classes"]).reshape(-1),
        masks=masks if self._iou_type == "segm" else None)

  def detections_as_coco(self):
    """The accumulated detections as COCO result dicts (for a results JSON)."""
    return list(self._detections)

  def evaluate(self):
    """-> {metric name: float}; per-category, super-category and split keys as configured."""
    summary, per_cat = coco_tools.run_coco_eval(
        self._images, self._categories, self._groundtruth, self._detections, self._iou_type)
    metrics = {f"{self._prefix}_{k}": v for k, v in summary.items()}
    names = {c["id"]: c["name"] for c in self._categories}
    if self._per_category:
      for cat_id, ap in per_cat.items():
        metrics[f"{self._prefix}_PerformanceByCategory/mAP/{names[cat_id]}"] = ap
    by_name = {names[i]: ap for i, ap in per_cat.items()}
    for sup, members in self._super_categories.items():
      # The original averages per-category AP (including -1 for classes without ground truth);
      # we average over classes that have ground truth, which is what the AP means.
      values = [by_name[m] for m in members if by_name.get(m, -1.0) > -1.0]
      metrics[f"{self._prefix}_PerformanceBySuperCategory/{sup}"] = (
          float(np.mean(values)) if values else -1.0)
    if self._supervised is not None:
      novel = [c["id"] for c in self._categories if c["id"] not in self._supervised]
      for tag, ids in ((SUPERVISED, self._supervised), (NOVEL, novel)):
        split, _ = coco_tools.run_coco_eval(
            self._images, self._categories, self._groundtruth, self._detections,
            self._iou_type, cat_ids=ids)
        metrics.update({f"{self._prefix}_{tag}/{k}": v for k, v in split.items()})
    return metrics


def unknown_super_category_members(categories, super_categories):
  """{super category: [member names that are not category names]} (only the bad ones)."""
  names = {c["name"] for c in categories}
  unknown = {sup: [m for m in members if m not in names]
             for sup, members in (super_categories or {}).items()}
  return {sup: members for sup, members in unknown.items() if members}


def ids_not_in_categories(categories, class_ids):
  """The ids of `class_ids` that no category has."""
  ids = {int(c["id"]) for c in categories}
  return [int(i) for i in class_ids if int(i) not in ids]


@EVAL_METRICS.register("coco_detection_metrics")
def coco_detection_metrics(categories, include_metrics_per_category=False,
                           super_categories=None, mask_supervised_class_ids=None):
  return CocoEvaluator(categories, "bbox", include_metrics_per_category, super_categories,
                       mask_supervised_class_ids)


@EVAL_METRICS.register("coco_mask_metrics")
def coco_mask_metrics(categories, include_metrics_per_category=False, super_categories=None,
                      mask_supervised_class_ids=None):
  return CocoEvaluator(categories, "segm", include_metrics_per_category, super_categories,
                       mask_supervised_class_ids)


@EVAL_METRICS.register("lvis_mask_metrics")
def lvis_mask_metrics(categories, include_metrics_per_category=False, super_categories=None,
                      mask_supervised_class_ids=None):
  """LVIS federated mask AP. The lvis package (an optional extra: it pulls in OpenCV and
  matplotlib) is imported here, when a config asks for this metrics set, not before."""
  # Per-category, super-category and supervised/novel numbers are COCO-only for now.
  del include_metrics_per_category, super_categories, mask_supervised_class_ids
  from object_detection.eval import lvis_metrics  # pylint: disable=import-outside-toplevel
  return lvis_metrics.LvisMaskEvaluator(categories)
