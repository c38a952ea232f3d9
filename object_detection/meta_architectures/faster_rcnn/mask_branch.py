"""Mask R-CNN mask branch as pure functions: which sampled RoIs the mask head runs on in
training, which boxes and classes supervise the mask logits (the loss), and the detection
masks at inference. The mask head itself is a MASK_RCNN_MASK_HEADS layer (mask_heads.py);
RoIHeads routes its inputs."""

import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.faster_rcnn import losses as losses_lib
from object_detection.meta_architectures.faster_rcnn import targets as targets_lib

F = fields.InputDataFields


def positive_first_indices(proposals, num_proposals, groundtruth, num_rois):
  """The sampled proposals the mask head runs on in training: every positive (IoU >= 0.5 with
  a GT box, the second-stage rule), then the next proposals in order to fill `num_rois` (Model
  Garden's MaskSampler: foreground RoIs first, padded with the others).

  Only positives carry mask loss, so with at most `num_rois` positives (the balanced sampler's
  floor(batch_size * positive_fraction)) the loss and its gradients equal those of the mask
  head on every sampled proposal, for heads whose RoIs do not interact (no batch statistics).

  Args:
    proposals: [B, P, 4] float32 normalized sampled proposals; num_proposals: [B] int32.
    groundtruth: batched labels (fields.py).
    num_rois: int M <= P.
  Returns:
    [B, M] int32 proposal indices, positives first, each group in proposal order.
  """
  gt_boxes, gt_classes, gt_weights = targets_lib.unpack_groundtruth(groundtruth)
  targets = targets_lib.detection_targets(proposals, gt_boxes, gt_classes, gt_weights)
  p = proposals.shape[1]
  valid = tf.range(p)[None, :] < num_proposals[:, None]
  positive = tf.logical_and(targets["matches"] >= 0, valid)
  order = tf.range(p, dtype=tf.float32)[None, :]
  key = tf.where(positive, 2.0 * p - order, p - order)
  return tf.math.top_k(key, k=num_rois, sorted=True).indices


def mask_loss(predictions, groundtruth, box_targets, use_gt_boxes_for_masks,
              allowed_masked_classes_ids):
  """The unweighted mask loss of the training mask logits (FEATURES §4).

  Boxes on GT boxes are supervised by their own GT; boxes on proposals by the GT they matched
  (positives only). Either is weighted by the GT weight, the allowed-class flag and the
  optional per-instance mask weight (0 = that instance has no mask).

  Args:
    predictions: dict with mask_predictions [B, M, Km, h, w] logits and mask_boxes [B, M, 4];
      on a subset of the proposals also mask_roi_indices [B, M] int32 (their indices).
    groundtruth: batched labels with groundtruth_instance_masks [B, N, H, W].
    box_targets: the second-stage targets of the proposals (targets.detection_targets, with
      `valid` [B, P]); unused with GT boxes.
    use_gt_boxes_for_masks: bool, the mask boxes are the GT boxes.
    allowed_masked_classes_ids: 1-based ids whose masks are supervised (empty: all).
  Returns:
    scalar float32.
  Raises:
    ValueError: the ground truth has no instance masks.
  """
  if F.groundtruth_instance_masks not in groundtruth:
    raise ValueError("mask loss: the mask head needs "
                     f"groundtruth['{F.groundtruth_instance_masks}'] (got none)")
  _, gt_classes, gt_weights = targets_lib.unpack_groundtruth(groundtruth)
  logits = predictions["mask_predictions"]
  boxes = predictions["mask_boxes"]
  allowed = list(allowed_masked_classes_ids)
  if use_gt_boxes_for_masks:
    gt_idx = tf.broadcast_to(tf.range(boxes.shape[1])[None, :], tf.shape(gt_weights))
    onehot = gt_classes
    weights = gt_weights * targets_lib.allowed_class_weights(gt_classes, allowed)
  else:
    rows = predictions.get("mask_roi_indices")
    pick = (lambda t: t) if rows is None else (lambda t: tf.gather(t, rows, batch_dims=1))
    gt_idx = pick(box_targets["matches"])
    onehot = pick(box_targets["class_targets"])[..., 1:]
    weights = (pick(box_targets["reg_weights"]) * pick(box_targets["valid"]) *
               targets_lib.allowed_class_weights(onehot, allowed))
  mask_weights = groundtruth.get(F.groundtruth_instance_mask_weights)
  if mask_weights is not None:  # per-instance mask weights of the matched GT (0 = no mask)
    per_box = tf.gather(tf.cast(mask_weights, tf.float32), tf.maximum(gt_idx, 0), batch_dims=1)
    weights = weights * per_box
  size = (logits.shape[3], logits.shape[4])
  targets = targets_lib.mask_targets(groundtruth[F.groundtruth_instance_masks], gt_idx, boxes,
                                     size)
  return losses_lib.mask_loss(logits, targets, onehot, weights)


def detection_masks(mask_logits, detections, on_detections):
  """Mask probabilities of the detections (zeros past num_detections).

  Args:
    mask_logits: [B, M, Km, h, w] float32; M = the detections (on_detections) or the
      proposals the detections were chosen from.
    detections: dict of postprocess.decode_box_classifier.
    on_detections: bool, the logits are per detection already (3 stages).
  Returns:
    [B, D, h, w] float32 sigmoid probabilities of the detected class (or the single channel).
  """
  masks = mask_logits
  if not on_detections:
    masks = tf.gather(masks, detections["box_indices"], batch_dims=1)
  if masks.shape[2] == 1:
    masks = masks[:, :, 0]
  else:
    masks = tf.gather(masks, detections["classes"], axis=2, batch_dims=2)
  valid = tf.range(masks.shape[1])[None, :] < detections["num_detections"][:, None]
  return tf.where(valid[..., None, None], tf.sigmoid(masks), 0.0)
