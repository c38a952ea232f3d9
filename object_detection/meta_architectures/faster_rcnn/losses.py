"""Faster / Mask R-CNN losses as pure functions, normalised as the original
(faster_rcnn_meta_arch.py:_loss_rpn, _loss_box_classifier; FEATURES §4).

Per-element losses (smooth L1 with delta 1 summed over the 4 codes, softmax and sigmoid
cross-entropy) are local so the meta-architecture has no hidden dependency; the
second-stage classification loss can be replaced (`classification_loss_fn`).
"""

import tensorflow as tf

from object_detection.meta_architectures.faster_rcnn import targets as targets_lib
from object_detection.ops import sampler


def smooth_l1(predictions, targets, delta=1.0):
  """[..., 4] -> [...] Huber loss summed over the last axis (the original's smooth L1)."""
  diff = tf.abs(predictions - targets)
  per = tf.where(diff < delta, 0.5 * diff * diff, delta * (diff - 0.5 * delta))
  return tf.reduce_sum(per, axis=-1)


def softmax_cross_entropy(logits, onehot):
  """[..., C] logits and one-hot targets -> [...]."""
  return tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=logits)


def rpn_loss(box_encodings, objectness_logits, anchors, gt_boxes, gt_weights, minibatch_size,
             positive_fraction, seed=None):
  """RPN losses: balanced minibatch, each image normalised by its sampled count, batch mean.

  Args:
    box_encodings: [B, A, 4]; objectness_logits: [B, A, 2]; anchors: [A, 4] or [B, A, 4].
    gt_boxes: [B, N, 4]; gt_weights: [B, N].
    minibatch_size, positive_fraction: `first_stage_minibatch_size`, `..._positive_balance_fraction`.
  Returns:
    (localization, objectness) scalars, unweighted.
  """
  t = targets_lib.rpn_targets(anchors, gt_boxes, gt_weights)
  sampled = tf.cast(sampler.balanced_sample(t["cls_weights"] > 0.0, t["objectness"] > 0.0,
                                            minibatch_size, positive_fraction, seed), tf.float32)
  normalizer = tf.maximum(tf.reduce_sum(sampled, axis=1), 1.0)
  loc = smooth_l1(box_encodings, t["reg_targets"]) * sampled * t["reg_weights"]
  onehot = tf.one_hot(tf.cast(t["objectness"], tf.int32), 2)
  obj = softmax_cross_entropy(objectness_logits, onehot) * sampled
  loc = tf.reduce_mean(tf.reduce_sum(loc, axis=1) / normalizer)
  obj = tf.reduce_mean(tf.reduce_sum(obj, axis=1) / normalizer)
  return loc, obj


def select_class_boxes(box_encodings, class_targets):
  """[B, P, Q, 4] encodings -> [B, P, 4]: the shared box, or the one of the target class.

  class_targets: [B, P, K + 1] one-hot with background (background picks class 0; such rows
  carry zero localisation weight).
  """
  if box_encodings.shape[2] == 1:
    return box_encodings[:, :, 0]
  cls = tf.maximum(tf.argmax(class_targets[..., 1:], axis=-1, output_type=tf.int32), 0)
  return tf.gather(box_encodings, cls, axis=2, batch_dims=2)


def box_classifier_loss(box_encodings, class_logits, proposals, num_proposals, gt_boxes,
                        gt_classes, gt_weights, classification_loss_fn=softmax_cross_entropy):
  """Second-stage losses, each proposal's loss / (num_proposals of its image * B), summed.

  Args:
    box_encodings: [B, P, Q, 4]; class_logits: [B, P, K + 1]; proposals: [B, P, 4];
    num_proposals: [B] int32 valid proposals (the rest is padding).
  Returns:
    (localization, classification, targets dict) - losses unweighted.
  """
  t = targets_lib.detection_targets(proposals, gt_boxes, gt_classes, gt_weights)
  p = proposals.shape[1]
  valid = tf.cast(tf.range(p)[None, :] < num_proposals[:, None], tf.float32)
  batch = tf.cast(tf.shape(proposals)[0], tf.float32)
  normalizer = tf.maximum(tf.cast(num_proposals, tf.float32), 1.0)[:, None] * batch
  boxes = select_class_boxes(box_encodings, t["class_targets"])
  loc = smooth_l1(boxes, t["reg_targets"]) * t["reg_weights"]
  cls = classification_loss_fn(class_logits, t["class_targets"]) * t["cls_weights"]
  loc = tf.reduce_sum(loc / normalizer * valid)
  cls = tf.reduce_sum(cls / normalizer * valid)
  t["valid"] = valid
  return loc, cls, t


def mask_loss(mask_logits, mask_targets, class_onehot, weights):
  """Per-pixel sigmoid cross-entropy on the target class's mask only.

  sum over boxes and pixels / max(sum(weights) * h * w, 1) (the original's normalisation:
  the per-pixel mean over positive boxes of the whole batch).

  Args:
    mask_logits: [B, M, Km, h, w] float32 (Km = K, or 1 class agnostic).
    mask_targets: [B, M, h, w] float32 soft targets.
    class_onehot: [B, M, K] float32 one-hot target class (without background).
    weights: [B, M] float32 (positive, allowed boxes; 0 elsewhere).
  Returns:
    scalar float32, unweighted.
  """
  if mask_logits.shape[2] == 1:
    logits = mask_logits[:, :, 0]
  else:
    cls = tf.argmax(class_onehot, axis=-1, output_type=tf.int32)
    logits = tf.gather(mask_logits, cls, axis=2, batch_dims=2)
  per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=mask_targets, logits=logits)
  h, w = mask_targets.shape[2], mask_targets.shape[3]
  total = tf.reduce_sum(per_pixel * weights[:, :, None, None])
  return total / tf.maximum(tf.reduce_sum(weights) * float(h * w), 1.0)
