"""Metrics of one trained model on the validation scenes, seen vs unseen classes.

  * mask AP (COCO, IoU 0.5:0.95, pycocotools) of the full model's detections (frozen detector
    boxes + this mask head), through the library's `coco_mask_metrics` evaluator with
    mask_supervised_class_ids = the seen classes: `DetectionMasks_MaskSupervised/...` (seen)
    and `DetectionMasks_Novel/...` (unseen) are each the mean per-class AP over the split.
  * mean mask IoU at the ground-truth boxes: `predict_masks_from_boxes` (box-prompted), pasted
    and binarized at 0.5; averaged per class, then over the classes of the split.
Baselines scored the same way: the filled box, and the mean seen-class mask ("silhouette prior":
what a head that memorised the seen classes' average shape would output for any box).
"""

import types

import numpy as np
import tensorflow as tf

from experiments.novel_class import shapes
from object_detection.core import fields
from object_detection.eval import metrics as metrics_lib
from object_detection.eval import prepare
from object_detection.ops import mask_ops

D = fields.DetectionResultFields
IN = fields.InputDataFields
SUP = "DetectionMasks_MaskSupervised/"
NOVEL = "DetectionMasks_Novel/"


def categories():
  return [{"id": i + 1, "name": c.name} for i, c in enumerate(shapes.CLASSES)]


def _evaluator(iou_type):
  config = types.SimpleNamespace(include_metrics_per_category=True, super_categories={})
  fn = metrics_lib.coco_mask_metrics if iou_type == "segm" else metrics_lib.coco_detection_metrics
  return fn(categories(), config, mask_supervised_class_ids=list(shapes.SEEN_IDS))


def _groundtruth(val, i):
  n = int((val.classes[i] > 0).sum())
  size = val.images.shape[1]
  return {"groundtruth_boxes": val.boxes[i, :n] * size,
          "groundtruth_classes": val.classes[i, :n],
          "groundtruth_instance_masks": val.masks[i, :n]}


def _iou(pred, target):
  """Per-instance IoU of [n, H, W] binary masks."""
  pred, target = pred.astype(bool), target.astype(bool)
  inter = np.logical_and(pred, target).sum((1, 2))
  union = np.logical_or(pred, target).sum((1, 2))
  return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def split_means(per_class):
  """{class id: value} -> (seen mean, unseen mean) over the classes present."""
  seen = [v for c, v in per_class.items() if c in shapes.SEEN_IDS]
  unseen = [v for c, v in per_class.items() if c in shapes.UNSEEN_IDS]
  return (float(np.mean(seen)) if seen else float("nan"),
          float(np.mean(unseen)) if unseen else float("nan"))


def _per_class_iou(ious, classes):
  return {int(c): float(np.mean(ious[classes == c])) for c in np.unique(classes)}


def _summary(mask_metrics, ious, classes, prefix=""):
  per_class = _per_class_iou(ious, classes)
  seen_iou, unseen_iou = split_means(per_class)
  names = {i + 1: c.name for i, c in enumerate(shapes.CLASSES)}
  out = {f"{prefix}seen_miou": seen_iou, f"{prefix}unseen_miou": unseen_iou,
         f"{prefix}per_class_iou": {names[c]: round(v, 4) for c, v in per_class.items()}}
  if mask_metrics is not None:
    out.update({
        f"{prefix}seen_ap": mask_metrics[SUP + "Precision/mAP"],
        f"{prefix}unseen_ap": mask_metrics[NOVEL + "Precision/mAP"],
        f"{prefix}seen_ap50": mask_metrics[SUP + "Precision/mAP@.50IOU"],
        f"{prefix}unseen_ap50": mask_metrics[NOVEL + "Precision/mAP@.50IOU"],
        f"{prefix}per_class_ap": {
            k.rsplit("/", 1)[1]: round(v, 4) for k, v in mask_metrics.items()
            if "PerformanceByCategory" in k}})
  return out


def evaluate(model, val, batch_size=32):
  """-> dict of seen/unseen mask AP (+AP50, per class) and mean IoU at ground-truth boxes."""
  size = val.images.shape[1]
  evaluator = _evaluator("segm")
  spatial = np.array([[size, size]] * batch_size, np.int32)

  @tf.function
  def detect_with_masks(images):
    preprocessed, true_shapes = model.preprocess(images)
    predictions = model.predict(preprocessed, true_shapes, training=False)
    return model.postprocess(predictions, true_shapes)

  @tf.function
  def masks_at(images, boxes):
    probs = model.predict_masks_from_boxes(images, boxes)
    return mask_ops.paste_and_binarize_masks(probs, boxes, size, size)

  ious, classes = [], []
  for start in range(0, len(val), batch_size):
    stop = min(start + batch_size, len(val))
    images = tf.constant(val.images[start:stop], tf.float32)
    detections = prepare.to_numpy(detect_with_masks(images))
    features = {IN.original_image_spatial_shape: spatial[:stop - start]}
    pasted = masks_at(images, tf.constant(val.boxes[start:stop])).numpy()
    for b, i in enumerate(range(start, stop)):
      evaluator.add_single_ground_truth_image_info(i, _groundtruth(val, i))
      evaluator.add_single_detected_image_info(i, prepare.detections_for_image(detections,
                                                                               features, b))
      n = int((val.classes[i] > 0).sum())
      ious.append(_iou(pasted[b, :n], val.masks[i, :n]))
      classes.append(val.classes[i, :n])
  return _summary(evaluator.evaluate(), np.concatenate(ious), np.concatenate(classes))


def detection_box_ap(det_boxes, det_scores, det_classes, val):
  """Box AP of the (shared, frozen) detector, seen / unseen split: a sanity number."""
  size = val.images.shape[1]
  evaluator = _evaluator("bbox")
  for i in range(len(val)):
    evaluator.add_single_ground_truth_image_info(i, _groundtruth(val, i))
    keep = det_scores[i] > 0
    evaluator.add_single_detected_image_info(i, {
        "detection_boxes": det_boxes[i][keep] * size, "detection_scores": det_scores[i][keep],
        "detection_classes": det_classes[i][keep].astype(np.int32) + 1})
  m = evaluator.evaluate()
  return {"box_ap": m["DetectionBoxes_Precision/mAP"],
          "seen_box_ap": m["DetectionBoxes_MaskSupervised/Precision/mAP"],
          "unseen_box_ap": m["DetectionBoxes_Novel/Precision/mAP"]}


def seen_shape_prior(train, mask_size=32):
  """[mask_size, mask_size] mean of the seen classes' ground-truth masks in their box frames."""
  valid = np.isin(train.classes, shapes.SEEN_IDS)
  b, k = np.nonzero(valid)
  crops = mask_ops.crop_masks_to_boxes(train.masks[b, k], tf.constant(train.boxes[b, k]),
                                       mask_size)
  return tf.reduce_mean(crops, axis=0).numpy()


def baselines(val, prior, det_boxes, det_scores, det_classes):
  """Filled-box and seen-prior masks, at the ground-truth boxes (IoU) and at the detector's
  boxes (mask AP)."""
  size = val.images.shape[1]
  out = {}
  for name, box_mask in (("filled_box", np.ones_like(prior)), ("seen_prior", prior)):
    evaluator = _evaluator("segm")
    ious, classes = [], []
    for i in range(len(val)):
      n = int((val.classes[i] > 0).sum())
      gt_masks = mask_ops.paste_and_binarize_masks(
          tf.constant(np.broadcast_to(box_mask, (1, n) + box_mask.shape), tf.float32),
          tf.constant(val.boxes[i:i + 1, :n]), size, size).numpy()[0]
      ious.append(_iou(gt_masks, val.masks[i, :n]))
      classes.append(val.classes[i, :n])
      keep = det_scores[i] > 0
      k = int(keep.sum())
      det_masks = mask_ops.paste_and_binarize_masks(
          tf.constant(np.broadcast_to(box_mask, (1, k) + box_mask.shape), tf.float32),
          tf.constant(det_boxes[i:i + 1][:, keep]), size, size).numpy()[0]
      evaluator.add_single_ground_truth_image_info(i, _groundtruth(val, i))
      evaluator.add_single_detected_image_info(i, {
          "detection_boxes": det_boxes[i][keep] * size, "detection_scores": det_scores[i][keep],
          "detection_classes": det_classes[i][keep].astype(np.int32) + 1,
          "detection_masks": det_masks})
    out[name] = _summary(evaluator.evaluate(), np.concatenate(ious), np.concatenate(classes))
  return out


def redact(result):
  """A copy of a result dict without any unseen-class number (for pilot runs)."""
  unseen_names = {c.name for c in shapes.CLASSES if not c.seen}
  if isinstance(result, dict):
    return {k: redact(v) for k, v in result.items()
            if "unseen" not in k and "Novel" not in k and k not in unseen_names}
  return result
