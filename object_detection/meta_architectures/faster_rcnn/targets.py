"""Pure target assignment for Faster / Mask R-CNN (static shapes, padded ground truth).

Ground truth arrives batched and padded: boxes [B, N, 4] normalized to the padded input,
one-hot classes [B, N, K], weights [B, N] (0 for padding).
"""

import tensorflow as tf

from object_detection.core import fields
from object_detection.ops import box_coder
from object_detection.ops import box_ops
from object_detection.ops import matcher
from object_detection.ops import roi_align
from object_detection.ops import sampler

F = fields.InputDataFields


def unpack_groundtruth(groundtruth):
  """Batched labels (fields.py) -> boxes [B, N, 4] float32, one-hot classes [B, N, K] float32,
  weights [B, N] float32 (default: 1 for boxes with a class, 0 for padding)."""
  boxes = tf.cast(groundtruth[F.groundtruth_boxes], tf.float32)
  classes = tf.cast(groundtruth[F.groundtruth_classes], tf.float32)
  weights = groundtruth.get(F.groundtruth_weights)
  if weights is None:
    weights = tf.reduce_max(classes, axis=-1)
  return boxes, classes, tf.cast(weights, tf.float32)


def rpn_targets(anchors, gt_boxes, gt_weights, matched_threshold=0.7,
                unmatched_threshold=0.3, scale_factors=box_coder.DEFAULT_SCALE_FACTORS):
  """Objectness and box targets of the anchors (the original's 'proposal' target assigner).

  Args:
    anchors: [A, 4] or [B, A, 4] float32 normalized.
    gt_boxes: [B, N, 4] float32 normalized. gt_weights: [B, N] float32 (0 = padding).
  Returns:
    dict of
      objectness: [B, A] float32, 1 for matched anchors.
      cls_weights: [B, A] float32: matched -> the GT weight, negative -> 1, ignored -> 0.
      reg_targets: [B, A, 4] float32 box codes (0 for unmatched).
      reg_weights: [B, A] float32: matched -> the GT weight, else 0.
      matches: [B, A] int32 match results.
  """
  valid = gt_weights > 0.0
  matches = matcher.argmax_match(box_ops.iou(gt_boxes, anchors), valid, matched_threshold,
                                 unmatched_threshold, force_match_for_each_row=True)
  return _encode_matches(matches, anchors, gt_boxes, gt_weights, scale_factors)


def _encode_matches(matches, anchors, gt_boxes, gt_weights, scale_factors):
  positive = matches >= 0
  matched_boxes = matcher.gather_matched(gt_boxes, matches, 0.0)
  matched_weights = matcher.gather_matched(gt_weights, matches, 0.0)
  anchors = tf.broadcast_to(anchors, tf.shape(matched_boxes))
  codes = box_coder.encode(matched_boxes, anchors, scale_factors)
  pos_f = tf.cast(positive, tf.float32)
  cls_weights = tf.where(positive, matched_weights,
                         tf.cast(tf.equal(matches, matcher.UNMATCHED), tf.float32))
  return {
      "objectness": pos_f,
      "cls_weights": cls_weights,
      "reg_targets": codes * pos_f[..., None],
      "reg_weights": matched_weights * pos_f,
      "matches": matches,
  }


def detection_targets(proposals, gt_boxes, gt_classes, gt_weights, iou_threshold=0.5,
                      scale_factors=box_coder.DEFAULT_SCALE_FACTORS):
  """Second-stage targets of the proposals (the original's 'detection' target assigner).

  Args:
    proposals: [B, P, 4] float32 normalized.
    gt_boxes: [B, N, 4]; gt_classes: [B, N, K] one-hot float32; gt_weights: [B, N] float32.
    iou_threshold: proposals with IoU >= it are positives, the rest background.
  Returns:
    dict of
      class_targets: [B, P, K + 1] float32 one-hot with background column 0.
      cls_weights, reg_targets, reg_weights, matches: as `rpn_targets`.
  """
  valid = gt_weights > 0.0
  matches = matcher.argmax_match(box_ops.iou(gt_boxes, proposals), valid, iou_threshold)
  out = _encode_matches(matches, proposals, gt_boxes, gt_weights, scale_factors)
  num_classes = gt_classes.shape[-1]
  background = tf.one_hot(0, num_classes + 1)
  with_bg = tf.pad(gt_classes, [[0, 0], [0, 0], [1, 0]])
  out["class_targets"] = matcher.gather_matched(with_bg, matches, background)
  return out


def sample_proposals(proposals, proposal_valid, gt_boxes, gt_classes, gt_weights, batch_size,
                     positive_fraction, iou_threshold=0.5, seed=None):
  """Picks the second-stage training minibatch (the original's _sample_box_classifier_batch).

  Args:
    proposals: [B, P, 4] float32 normalized; proposal_valid: [B, P] bool.
    gt_boxes, gt_classes, gt_weights: batched padded ground truth.
    batch_size: int, S (`second_stage_batch_size`).
    positive_fraction: float (`second_stage_balance_fraction`).
  Returns:
    boxes: [B, S, 4] float32 (zeros for padding); num_sampled: [B] int32.
  """
  targets = detection_targets(proposals, gt_boxes, gt_classes, gt_weights, iou_threshold)
  positive = targets["objectness"] > 0.0
  indicator = tf.logical_and(proposal_valid, targets["cls_weights"] > 0.0)
  sampled = sampler.balanced_sample(indicator, positive, batch_size, positive_fraction, seed)
  num_sampled = tf.reduce_sum(tf.cast(sampled, tf.int32), axis=1)
  p = proposals.shape[1]
  k = min(batch_size, p)
  # Sampled entries first, in their original (score) order.
  order_key = tf.where(sampled, -tf.range(p, dtype=tf.float32)[None, :], -2.0 * p)
  _, idx = tf.math.top_k(order_key, k=k)
  boxes = tf.gather(proposals, idx, batch_dims=1)
  valid = tf.range(k)[None, :] < num_sampled[:, None]
  boxes = tf.where(valid[..., None], boxes, 0.0)
  if k < batch_size:
    boxes = tf.pad(boxes, [[0, 0], [0, batch_size - k], [0, 0]])
  return boxes, num_sampled


def mask_targets(gt_masks, gt_indices, boxes, mask_size):
  """GT masks cropped to boxes (tf.image.crop_and_resize semantics, bilinear, 0 outside).

  Args:
    gt_masks: [B, N, H, W] uint8/float {0, 1} masks in the padded-input frame (any
      resolution: boxes are normalized).
    gt_indices: [B, M] int32, which GT mask each box is cropped from (clipped to >= 0).
    boxes: [B, M, 4] float32 normalized crop boxes.
    mask_size: (h, w).
  Returns:
    [B, M, h, w] float32 soft targets in [0, 1] (stop_gradient).
  """
  crops = roi_align.crop_masks(tf.cast(gt_masks, tf.float32), tf.maximum(gt_indices, 0), boxes,
                               mask_size)
  return tf.stop_gradient(crops)


def allowed_class_weights(class_onehot, allowed_class_ids):
  """1.0 where the one-hot class is among `allowed_class_ids` (1-based label ids).

  Args:
    class_onehot: [..., K] float32 one-hot (all zeros -> not allowed).
    allowed_class_ids: sequence of 1-based ids, or empty/None for "all classes".
  Returns:
    [...] float32.
  """
  if not allowed_class_ids:
    return tf.reduce_max(class_onehot, axis=-1)
  k = class_onehot.shape[-1]
  bad = [i for i in allowed_class_ids if not 1 <= i <= k]
  if bad:
    raise ValueError(f"allowed_masked_classes_ids: ids out of range (got {bad}; expected "
                     f"1..{k})")
  allowed = tf.reduce_sum(tf.one_hot([i - 1 for i in allowed_class_ids], k), axis=0)
  return tf.minimum(tf.reduce_sum(class_onehot * allowed, axis=-1), 1.0)
