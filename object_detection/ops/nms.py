"""Non-maximum suppression with static output shapes (XLA friendly).

`single_class_nms` serves the RPN (first-stage proposals); `batch_multiclass_nms` is the
original's `batch_multiclass_non_max_suppression` for the second stage: per-class NMS, then the
best `max_total_size` over all classes, padded with zeros.
"""

import tensorflow as tf


def single_class_nms(boxes, scores, max_output_size, iou_threshold, score_threshold=-1e30):
  """Batched single-class NMS.

  Args:
    boxes: [B, N, 4] float32 corners (any frame).
    scores: [B, N] float32.
    max_output_size: int, K.
    iou_threshold: float, boxes overlapping a kept box by more than this are dropped.
    score_threshold: float, boxes scoring <= this are dropped (as tf.image NMS).
  Returns:
    indices: [B, K] int32 indices into N, in decreasing score (padding: 0).
    valid: [B, K] bool, False for padding.
    num_valid: [B] int32.
  """
  indices, num_valid = tf.image.non_max_suppression_padded(
      boxes, scores, max_output_size, iou_threshold=iou_threshold,
      score_threshold=score_threshold, pad_to_max_output_size=True,
      sorted_input=False, canonicalized_coordinates=False)
  k = indices.shape[-1] or max_output_size
  valid = tf.range(k, dtype=tf.int32)[None, :] < num_valid[:, None]
  return tf.where(valid, indices, 0), valid, tf.cast(num_valid, tf.int32)


def batch_multiclass_nms(boxes, scores, score_threshold, iou_threshold,
                         max_size_per_class, max_total_size, class_agnostic=False):
  """Per-class NMS then a global top-k, as the original's batch_multiclass_non_max_suppression.

  Args:
    boxes: [B, N, Q, 4] float32, Q = K (one box per class) or 1 (shared by all classes).
    scores: [B, N, K] float32 class scores (background column already removed).
    score_threshold: boxes scoring below it are dropped.
    iou_threshold: NMS IoU threshold.
    max_size_per_class: int, detections kept per class.
    max_total_size: int, D, detections kept per image.
    class_agnostic: one NMS over the best class of each box instead of one per class.
  Returns:
    dict of
      boxes: [B, D, 4] float32 (zeros for padding).
      scores: [B, D] float32 (zeros for padding).
      classes: [B, D] int32 0-based class index (0 for padding).
      box_indices: [B, D] int32 index into N of each detection (0 for padding).
      num_detections: [B] int32.
  """
  b = tf.shape(boxes)[0]
  n = boxes.shape[1]
  k = scores.shape[2]
  q = boxes.shape[2]
  if q not in (1, k):
    raise ValueError(f"batch_multiclass_nms: boxes.shape[2] must be 1 or num_classes "
                     f"(got {q}; expected 1 or {k})")
  if class_agnostic:
    cls_scores = tf.reduce_max(scores, axis=-1)[:, None, :]           # [B, 1, N]
    cls_boxes = (boxes[:, :, 0] if q == 1 else tf.gather(
        boxes, tf.argmax(scores, axis=-1, output_type=tf.int32), axis=2, batch_dims=2))
    cls_boxes = cls_boxes[:, None]                                     # [B, 1, N, 4]
    groups = 1
  else:
    cls_scores = tf.transpose(scores, [0, 2, 1])                      # [B, K, N]
    cls_boxes = tf.transpose(tf.broadcast_to(boxes, [b, n, k, 4]), [0, 2, 1, 3])
    groups = k
  flat_boxes = tf.reshape(cls_boxes, [-1, n, 4])
  flat_scores = tf.reshape(cls_scores, [-1, n])
  # tf.image drops scores <= threshold; the original keeps scores >= threshold.
  idx, valid, _ = single_class_nms(flat_boxes, flat_scores, max_size_per_class, iou_threshold,
                                   score_threshold=score_threshold - 1e-7)
  per = idx.shape[-1]
  kept_scores = tf.gather(flat_scores, idx, batch_dims=1)
  kept_scores = tf.where(valid, kept_scores, -1.0)
  kept_scores = tf.reshape(kept_scores, [b, groups * per])
  kept_idx = tf.reshape(idx, [b, groups * per])
  kept_valid = tf.reshape(valid, [b, groups * per])
  if class_agnostic:
    best_cls = tf.argmax(scores, axis=-1, output_type=tf.int32)      # [B, N]
    kept_cls = tf.gather(best_cls, kept_idx, batch_dims=1)
  else:
    kept_cls = tf.broadcast_to(tf.range(k, dtype=tf.int32)[None, :, None], [b, k, per])
    kept_cls = tf.reshape(kept_cls, [b, k * per])
  total = min(max_total_size, groups * per)
  top_scores, order = tf.math.top_k(kept_scores, k=total, sorted=True)
  top_valid = tf.gather(kept_valid, order, batch_dims=1)
  top_idx = tf.where(top_valid, tf.gather(kept_idx, order, batch_dims=1), 0)
  top_cls = tf.where(top_valid, tf.gather(kept_cls, order, batch_dims=1), 0)
  box_src = boxes if q > 1 else tf.broadcast_to(boxes, [b, n, k, 4])
  top_boxes = tf.gather_nd(box_src, tf.stack([top_idx, top_cls], axis=-1), batch_dims=1)
  top_boxes = tf.where(top_valid[..., None], top_boxes, 0.0)
  top_scores = tf.where(top_valid, top_scores, 0.0)
  if total < max_total_size:
    pad = max_total_size - total
    top_boxes = tf.pad(top_boxes, [[0, 0], [0, pad], [0, 0]])
    top_scores = tf.pad(top_scores, [[0, 0], [0, pad]])
    top_cls = tf.pad(top_cls, [[0, 0], [0, pad]])
    top_idx = tf.pad(top_idx, [[0, 0], [0, pad]])
  return {
      "boxes": top_boxes,
      "scores": top_scores,
      "classes": top_cls,
      "box_indices": top_idx,
      "num_detections": tf.reduce_sum(tf.cast(top_valid, tf.int32), axis=1),
  }
