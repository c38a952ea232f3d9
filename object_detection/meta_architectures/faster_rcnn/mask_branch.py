"""Mask R-CNN mask branch as pure functions: which boxes and classes supervise the mask logits
(the loss), and the detection masks at inference. The mask head itself is a
MASK_RCNN_MASK_HEADS layer (mask_heads.py); RoIHeads routes its inputs."""

import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.faster_rcnn import losses as losses_lib
from object_detection.meta_architectures.faster_rcnn import targets as targets_lib

F = fields.InputDataFields


def mask_loss(predictions, groundtruth, box_targets, use_gt_boxes_for_masks,
              allowed_masked_classes_ids):
  """The unweighted mask loss of the training mask logits (FEATURES §4).

  Boxes on GT boxes are supervised by their own GT; boxes on proposals by the GT they matched
  (positives only). Either is weighted by the GT weight, the allowed-class flag and the
  optional per-instance mask weight (0 = that instance has no mask).

  Args:
    predictions: dict with mask_predictions [B, M, Km, h, w] logits and mask_boxes [B, M, 4].
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
    gt_idx = box_targets["matches"]
    onehot = box_targets["class_targets"][..., 1:]
    weights = (box_targets["reg_weights"] * box_targets["valid"] *
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
