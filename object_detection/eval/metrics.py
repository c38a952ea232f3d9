"""Evaluators named by `eval_config.metrics_set`, registered in `EVAL_METRICS`.

  coco_detection_metrics -> CocoEvaluator(iou_type="bbox"), keys `DetectionBoxes_*`
  coco_mask_metrics      -> CocoEvaluator(iou_type="segm"), keys `DetectionMasks_*`
  lvis_mask_metrics      -> LvisMaskEvaluator (lvis package), keys `DetectionMasks_*`

Registry entries are called `fn(categories, eval_config, mask_supervised_class_ids=None)`:
`categories` is a list of {"id": 1-based int, "name": str}; `eval_config` is an `EvalConfig`
message (or anything with its attribute names; missing ones take the original's defaults).

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

from object_detection.core.errors import ConfigError
from object_detection.core.registries import EVAL_METRICS
from object_detection.eval import coco_tools

SUPERVISED = "MaskSupervised"
NOVEL = "Novel"


def _super_categories(eval_config):
  """eval_config.super_categories (map name -> comma-separated class names) -> dict of lists."""
  raw = getattr(eval_config, "super_categories", None) or {}
  return {name: [c.strip() for c in str(value).split(",") if c.strip()]
          for name, value in dict(raw).items()}


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
    names = {c["name"] for c in self._categories}
    for sup, members in self._super_categories.items():
      unknown = [m for m in members if m not in names]
      if unknown:
        raise ConfigError(
            f"eval_config.super_categories[{sup!r}]: unknown class names (got {unknown}; "
            f"expected names from the label map)")
    ids = {c["id"] for c in self._categories}
    self._supervised = (sorted(int(i) for i in mask_supervised_class_ids)
                        if mask_supervised_class_ids else None)
    if self._supervised is not None:
      bad = [i for i in self._supervised if i not in ids]
      if bad:
        raise ConfigError(
            f"allowed_masked_classes_ids: ids not in the label map (got {bad}; expected 1-based "
            f"ids among {sorted(ids)})")
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


def _options(eval_config):
  return dict(
      include_metrics_per_category=bool(getattr(eval_config, "include_metrics_per_category",
                                                False)),
      super_categories=_super_categories(eval_config))


@EVAL_METRICS.register("coco_detection_metrics")
def coco_detection_metrics(categories, eval_config, mask_supervised_class_ids=None):
  return CocoEvaluator(categories, "bbox", mask_supervised_class_ids=mask_supervised_class_ids,
                       **_options(eval_config))


@EVAL_METRICS.register("coco_mask_metrics")
def coco_mask_metrics(categories, eval_config, mask_supervised_class_ids=None):
  return CocoEvaluator(categories, "segm", mask_supervised_class_ids=mask_supervised_class_ids,
                       **_options(eval_config))


def build_evaluators(categories, eval_config, mask_supervised_class_ids=None):
  """`eval_config.metrics_set` (default coco_detection_metrics) -> list of evaluators."""
  sets = list(getattr(eval_config, "metrics_set", None) or []) or ["coco_detection_metrics"]
  return [EVAL_METRICS.get(name, field_path="eval_config.metrics_set")(
      categories, eval_config, mask_supervised_class_ids) for name in sets]


# lvis_mask_metrics lives in its own module (the lvis package); importing it registers it.
from object_detection.eval import lvis_metrics  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
