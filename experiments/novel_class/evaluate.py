"""Metrics of one trained model on the validation scenes, seen vs unseen classes.

  * mask AP at the ground-truth boxes (`gt_` keys): COCO mask AP (IoU 0.5:0.95, pycocotools)
    through the library's `coco_mask_metrics` evaluator with mask_supervised_class_ids = the
    seen classes, of box-prompted masks (`predict_masks_from_boxes` at every ground-truth box,
    with its class; score = the mask's mean probability over its foreground pixels): a mask
    AP of the mask head alone. `DetectionMasks_MaskSupervised/...` (seen) and
    `DetectionMasks_Novel/...` (unseen) are each the mean per-class AP over the split.
  * mask AP of the full model's own detections (`det_` keys; boxes and classes from its
    detection heads): the paper's number, here bounded by a weak small detector.
  * mean mask IoU at the ground-truth boxes: the same box-prompted masks, pasted and binarized
    at 0.5; averaged per class, then over the classes of the split.
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


def _ap_summary(mask_metrics, prefix):
  return {
      f"{prefix}seen_ap": mask_metrics[SUP + "Precision/mAP"],
      f"{prefix}unseen_ap": mask_metrics[NOVEL + "Precision/mAP"],
      f"{prefix}seen_ap50": mask_metrics[SUP + "Precision/mAP@.50IOU"],
      f"{prefix}unseen_ap50": mask_metrics[NOVEL + "Precision/mAP@.50IOU"],
      f"{prefix}seen_ar": mask_metrics[SUP + "Recall/AR@100"],
      f"{prefix}unseen_ar": mask_metrics[NOVEL + "Recall/AR@100"],
      f"per_class_{prefix}ap": {k.rsplit("/", 1)[1]: round(v, 4) for k, v in mask_metrics.items()
                                if "PerformanceByCategory" in k}}


def _summary(gt_metrics, det_metrics, ious, classes):
  per_class = _per_class_iou(ious, classes)
  seen_iou, unseen_iou = split_means(per_class)
  names = {i + 1: c.name for i, c in enumerate(shapes.CLASSES)}
  out = {"seen_miou": seen_iou, "unseen_miou": unseen_iou,
         "per_class_iou": {names[c]: round(v, 4) for c, v in per_class.items()}}
  if gt_metrics is not None:
    out.update(_ap_summary(gt_metrics, "gt_"))
  if det_metrics is not None:
    out.update(_ap_summary(det_metrics, "det_"))
  return out


def _mask_score(probs):
  """[..., S, S] box-frame probabilities -> [...] mean probability over the foreground (> 0.5)
  pixels (0 for an empty mask): the confidence of a box-prompted mask."""
  fg = tf.cast(probs > 0.5, tf.float32)
  return tf.reduce_sum(probs * fg, axis=[-2, -1]) / tf.maximum(tf.reduce_sum(fg, [-2, -1]), 1.0)


def evaluate(model, val, batch_size=32):
  """-> dict of seen/unseen mask AP (at ground-truth boxes and at the model's detections; AP50,
  AR, per class) and mean IoU at ground-truth boxes."""
  size = val.images.shape[1]
  evaluator, gt_evaluator = _evaluator("segm"), _evaluator("segm")
  spatial = np.array([[size, size]] * batch_size, np.int32)

  @tf.function
  def detect_with_masks(images):
    preprocessed, true_shapes = model.preprocess(images)
    predictions = model.predict(preprocessed, true_shapes, training=False)
    return model.postprocess(predictions, true_shapes)

  @tf.function
  def masks_at(images, boxes):
    probs = model.predict_masks_from_boxes(images, boxes)
    return mask_ops.paste_and_binarize_masks(probs, boxes, size, size), _mask_score(probs)

  ious, classes = [], []
  for start in range(0, len(val), batch_size):
    stop = min(start + batch_size, len(val))
    images = tf.constant(val.images[start:stop], tf.float32)
    detections = prepare.to_numpy(detect_with_masks(images))
    features = {IN.original_image_spatial_shape: spatial[:stop - start]}
    pasted, scores = (x.numpy() for x in masks_at(images, tf.constant(val.boxes[start:stop])))
    for b, i in enumerate(range(start, stop)):
      gt = _groundtruth(val, i)
      evaluator.add_single_ground_truth_image_info(i, gt)
      evaluator.add_single_detected_image_info(i, prepare.detections_for_image(detections,
                                                                               features, b))
      n = int((val.classes[i] > 0).sum())
      gt_evaluator.add_single_ground_truth_image_info(i, gt)
      gt_evaluator.add_single_detected_image_info(i, {
          "detection_boxes": gt["groundtruth_boxes"], "detection_scores": scores[b, :n],
          "detection_classes": gt["groundtruth_classes"], "detection_masks": pasted[b, :n]})
      ious.append(_iou(pasted[b, :n], val.masks[i, :n]))
      classes.append(val.classes[i, :n])
  return _summary(gt_evaluator.evaluate(), evaluator.evaluate(), np.concatenate(ious),
                  np.concatenate(classes))


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
  """[mask_size, mask_size] binary "seen prior": the mean of the seen classes' ground-truth masks
  in their box frames, thresholded where it best fits those same training masks (mean IoU)."""
  valid = np.isin(train.classes, shapes.SEEN_IDS)
  b, k = np.nonzero(valid)
  crops = mask_ops.crop_masks_to_boxes(train.masks[b, k], tf.constant(train.boxes[b, k]),
                                       mask_size).numpy() > 0.5
  mean = crops.mean(0)
  best = max(np.arange(0.05, 1.0, 0.05),
             key=lambda t: _iou(np.broadcast_to(mean > t, crops.shape), crops).mean())
  return (mean > best).astype(np.float32)


def _constant_masks(box_mask, boxes, size):
  """[n, 4] normalized boxes -> [n, size, size] uint8: `box_mask` pasted into every box."""
  n = boxes.shape[0]
  probs = tf.constant(np.broadcast_to(box_mask, (1, n) + box_mask.shape), tf.float32)
  return mask_ops.paste_and_binarize_masks(probs, tf.constant(boxes[None]), size, size).numpy()[0]


def baselines(val, prior, det_boxes, det_scores, det_classes):
  """Filled-box and seen-prior masks at the ground-truth boxes (IoU; AP with one constant score,
  so its ranking is arbitrary: a floor only) and at the shared detector's boxes (AP)."""
  size = val.images.shape[1]
  out = {}
  for name, box_mask in (("filled_box", np.ones_like(prior)), ("seen_prior", prior)):
    evaluator, gt_evaluator = _evaluator("segm"), _evaluator("segm")
    ious, classes = [], []
    for i in range(len(val)):
      gt = _groundtruth(val, i)
      n = len(gt["groundtruth_classes"])
      gt_masks = _constant_masks(box_mask, val.boxes[i, :n], size)
      ious.append(_iou(gt_masks, val.masks[i, :n]))
      classes.append(val.classes[i, :n])
      gt_evaluator.add_single_ground_truth_image_info(i, gt)
      gt_evaluator.add_single_detected_image_info(i, {
          "detection_boxes": gt["groundtruth_boxes"], "detection_scores": np.ones(n),
          "detection_classes": gt["groundtruth_classes"], "detection_masks": gt_masks})
      keep = det_scores[i] > 0
      evaluator.add_single_ground_truth_image_info(i, gt)
      evaluator.add_single_detected_image_info(i, {
          "detection_boxes": det_boxes[i][keep] * size, "detection_scores": det_scores[i][keep],
          "detection_classes": det_classes[i][keep].astype(np.int32) + 1,
          "detection_masks": _constant_masks(box_mask, det_boxes[i][keep], size)})
    out[name] = _summary(gt_evaluator.evaluate(), evaluator.evaluate(), np.concatenate(ious),
                         np.concatenate(classes))
  return out


def redact(result):
  """A copy of a result dict without any unseen-class number (for pilot runs)."""
  unseen_names = {c.name for c in shapes.CLASSES if not c.seen}
  if isinstance(result, dict):
    return {k: redact(v) for k, v in result.items()
            if "unseen" not in k and "Novel" not in k and k not in unseen_names}
  return result
