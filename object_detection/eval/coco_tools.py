"""COCO-format conversion and pycocotools evaluation (boxes and masks), in plain numpy.

Frames: boxes given to these functions are ABSOLUTE pixels of the original image,
`[ymin, xmin, ymax, xmax]`; COCO wants `[x, y, width, height]`. Class ids are 1-based label ids.
Masks are [N, H, W] uint8 {0, 1} at the original image size (RLE-encoded here).

Metric names are the original's (metrics/coco_tools.py:COCOEvalWrapper.ComputeMetrics), prefixed
by `DetectionBoxes_` or `DetectionMasks_` by the caller.
"""

import contextlib
import io

import numpy as np
from pycocotools import coco as coco_api
from pycocotools import cocoeval
from pycocotools import mask as mask_api

# Order of COCOeval.stats, with the original's names.
SUMMARY_NAMES = (
    "Precision/mAP", "Precision/mAP@.50IOU", "Precision/mAP@.75IOU", "Precision/mAP (small)",
    "Precision/mAP (medium)", "Precision/mAP (large)", "Recall/AR@1", "Recall/AR@10",
    "Recall/AR@100", "Recall/AR@100 (small)", "Recall/AR@100 (medium)", "Recall/AR@100 (large)")


def box_to_coco(box):
  """[4] absolute [ymin, xmin, ymax, xmax] -> [x, y, w, h] list of python floats."""
  ymin, xmin, ymax, xmax = (float(v) for v in box)
  return [xmin, ymin, xmax - xmin, ymax - ymin]


def encode_mask(mask):
  """[H, W] uint8 {0,1} -> COCO RLE dict with a str `counts` (JSON-serialisable)."""
  rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
  rle["counts"] = rle["counts"].decode("ascii")
  return rle


def groundtruth_annotations(image_id, boxes, classes, masks=None, is_crowd=None, areas=None,
                            first_annotation_id=1):
  """One image's ground truth -> list of COCO annotation dicts.

  Args:
    image_id: hashable image id.
    boxes: [N, 4] float absolute [ymin, xmin, ymax, xmax].
    classes: [N] int 1-based.
    masks: [N, H, W] uint8 or None.
    is_crowd: [N] bool/int or None (0).
    areas: [N] float or None; entries <= 0 fall back to the box area (the original's rule).
    first_annotation_id: id of the first annotation (ids must be unique over the dataset).
  """
  annotations = []
  for i in range(len(classes)):
    bbox = box_to_coco(boxes[i])
    area = float(areas[i]) if areas is not None and float(areas[i]) > 0 else bbox[2] * bbox[3]
    ann = {"id": first_annotation_id + i, "image_id": image_id, "category_id": int(classes[i]),
           "bbox": bbox, "area": area,
           "iscrowd": int(is_crowd[i]) if is_crowd is not None else 0}
    if masks is not None:
      ann["segmentation"] = encode_mask(masks[i])
    annotations.append(ann)
  return annotations


def detection_annotations(image_id, boxes, scores, classes, masks=None):
  """One image's detections -> list of COCO result dicts (boxes absolute, classes 1-based)."""
  results = []
  for i in range(len(scores)):
    res = {"image_id": image_id, "category_id": int(classes[i]), "score": float(scores[i]),
           "bbox": box_to_coco(boxes[i])}
    if masks is not None:
      res["segmentation"] = encode_mask(masks[i])
    results.append(res)
  return results


def _quiet(fn, *args):
  with contextlib.redirect_stdout(io.StringIO()):
    return fn(*args)


def run_coco_eval(images, categories, groundtruth, detections, iou_type, cat_ids=None):
  """Runs COCOeval; returns (summary dict name -> float, per-category AP dict id -> float).

  Args:
    images: list of {"id": ...} dicts (every evaluated image, even without ground truth).
    categories: list of {"id": int, "name": str}.
    groundtruth: list of COCO annotations. detections: list of COCO results.
    iou_type: "bbox" or "segm".
    cat_ids: optional subset of category ids to average over (AP of a class split).
  Per-category AP is -1 for a category without ground truth (COCO's convention).
  """
  names = SUMMARY_NAMES
  if cat_ids is not None and not cat_ids:
    return {n: -1.0 for n in names}, {}
  gt = coco_api.COCO()
  gt.dataset = {"images": list(images), "categories": list(categories),
                "annotations": list(groundtruth)}
  _quiet(gt.createIndex)
  ids = sorted(c["id"] for c in categories) if cat_ids is None else sorted(cat_ids)
  has_gt = any(a["category_id"] in ids for a in groundtruth)
  dets = [d for d in detections if d["category_id"] in ids]
  if not dets:
    value = 0.0 if has_gt else -1.0
    return {n: value for n in names}, {c: (0.0 if any(
        a["category_id"] == c for a in groundtruth) else -1.0) for c in ids}
  dt = _quiet(gt.loadRes, dets)
  evaluator = cocoeval.COCOeval(gt, dt, iouType=iou_type)
  evaluator.params.imgIds = [im["id"] for im in images]
  evaluator.params.catIds = ids
  _quiet(evaluator.evaluate)
  _quiet(evaluator.accumulate)
  _quiet(evaluator.summarize)
  summary = {n: float(v) for n, v in zip(names, evaluator.stats)}
  # precision: [iou T, recall R, category K, area A, max dets M]; area "all", maxDets 100.
  precision = evaluator.eval["precision"]
  per_category = {}
  for k, cat_id in enumerate(ids):
    p = precision[:, :, k, 0, -1]
    p = p[p > -1]
    per_category[cat_id] = float(np.mean(p)) if p.size else -1.0
  return summary, per_category
