"""Localization losses of losses.proto (pure: per-anchor values, no reduction).

Same per-anchor semantics as the original's core/losses.py classes: `prediction` and `target` are
`[batch, num_anchors, code_size]` (box encodings for l2 / smooth_l1, decoded normalized
`[ymin, xmin, ymax, xmax]` boxes for the IoU family) and `weights` is `[batch, num_anchors]`.
The result is `[batch, num_anchors]`; the caller sums and normalises. The CenterNet L1 loss lives
in losses/center_net.py.
"""

import math

import tensorflow as tf


def _as_float(x):
  return tf.cast(tf.convert_to_tensor(x), tf.float32)


def _per_coordinate_weights(weights, prediction):
  """[B, A] weights -> [B, A, 1]; weights already of the prediction's rank are kept."""
  if weights.shape.rank is not None and weights.shape.rank == prediction.shape.rank - 1:
    return weights[..., tf.newaxis]
  return weights


def weighted_l2(prediction, target, weights):
  """0.5 * sum_c (w * (prediction - target))^2 (the weight is inside the square, as the original).

  Args:
    prediction: [B, A, C] float32 encoded boxes.
    target: [B, A, C] float32 regression targets.
    weights: [B, A] float32 (or [B, A, C]).
  Returns:
    [B, A] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  weighted_difference = (prediction - target) * _per_coordinate_weights(weights, prediction)
  return tf.reduce_sum(0.5 * tf.square(weighted_difference), axis=-1)


def weighted_smooth_l1(prediction, target, weights, delta=1.0):
  """Huber loss summed over coordinates, times weights (Girshick 2015, eq. 3).

  Per coordinate, x = prediction - target: 0.5 x^2 if |x| <= delta, else delta (|x| - 0.5 delta).

  Args:
    prediction: [B, A, C] float32 encoded boxes.
    target: [B, A, C] float32 regression targets.
    weights: [B, A] float32 (or [B, A, C]).
    delta: float > 0, where the loss turns linear.
  Returns:
    [B, A] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  absolute = tf.abs(prediction - target)
  quadratic = tf.minimum(absolute, delta)
  huber = 0.5 * tf.square(quadratic) + delta * (absolute - quadratic)
  return tf.reduce_sum(huber * _per_coordinate_weights(weights, prediction), axis=-1)


def _box_geometry(prediction, target):
  """Matched box pairs [..., 4] (ymin, xmin, ymax, xmax) -> IoU, union, hull height and width."""
  p_ymin, p_xmin, p_ymax, p_xmax = tf.unstack(prediction, axis=-1)
  t_ymin, t_xmin, t_ymax, t_xmax = tf.unstack(target, axis=-1)
  p_area = (p_ymax - p_ymin) * (p_xmax - p_xmin)
  t_area = (t_ymax - t_ymin) * (t_xmax - t_xmin)
  inter_h = tf.maximum(0.0, tf.minimum(p_ymax, t_ymax) - tf.maximum(p_ymin, t_ymin))
  inter_w = tf.maximum(0.0, tf.minimum(p_xmax, t_xmax) - tf.maximum(p_xmin, t_xmin))
  intersection = inter_h * inter_w
  union = p_area + t_area - intersection
  # IoU is 0 where the boxes do not intersect (also avoids 0 / 0 for empty boxes).
  iou = tf.where(tf.equal(intersection, 0.0), tf.zeros_like(intersection),
                 intersection / tf.where(tf.equal(union, 0.0), tf.ones_like(union), union))
  hull_h = tf.maximum(p_ymax, t_ymax) - tf.minimum(p_ymin, t_ymin)
  hull_w = tf.maximum(p_xmax, t_xmax) - tf.minimum(p_xmin, t_xmin)
  return iou, union, hull_h, hull_w


def weighted_iou(prediction, target, weights):
  """(1 - IoU(prediction, target)) * weights for matched box pairs.

  The original returns this flattened to [B * A]; we keep [B, A].

  Args:
    prediction: [B, A, 4] float32 decoded boxes.
    target: [B, A, 4] float32 decoded boxes.
    weights: [B, A] float32.
  Returns:
    [B, A] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  iou, _, _, _ = _box_geometry(prediction, target)
  return (1.0 - iou) * weights


def weighted_giou(prediction, target, weights):
  """(1 - GIoU) * weights, GIoU = IoU - (hull - union) / hull (Rezatofighi et al. 2019).

  Where the enclosing hull has zero area, GIoU is 0 (the original's convention).

  Args:
    prediction: [B, A, 4] float32 decoded boxes.
    target: [B, A, 4] float32 decoded boxes.
    weights: [B, A] float32.
  Returns:
    [B, A] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  iou, union, hull_h, hull_w = _box_geometry(prediction, target)
  hull = hull_h * hull_w
  safe_hull = tf.where(hull > 0.0, hull, tf.ones_like(hull))
  giou = iou - tf.where(hull > 0.0, (hull - union) / safe_hull, iou)
  return (1.0 - giou) * weights


def ciou(prediction, target, weights, epsilon=1e-7):
  """(1 - CIoU) * weights, CIoU = IoU - rho^2 / c^2 - alpha v (Zheng et al. 2020).

  rho: distance between the box centres; c: diagonal of the enclosing hull;
  v = 4 / pi^2 (atan(w_t / h_t) - atan(w_p / h_p))^2; alpha = v / (1 - IoU + v), no gradient.

  Args:
    prediction: [B, A, 4] float32 decoded boxes.
    target: [B, A, 4] float32 decoded boxes.
    weights: [B, A] float32.
    epsilon: float guard against division by zero for empty boxes.
  Returns:
    [B, A] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  iou, _, hull_h, hull_w = _box_geometry(prediction, target)
  p_ymin, p_xmin, p_ymax, p_xmax = tf.unstack(prediction, axis=-1)
  t_ymin, t_xmin, t_ymax, t_xmax = tf.unstack(target, axis=-1)
  centre_distance = (tf.square((p_ymin + p_ymax - t_ymin - t_ymax) / 2.0) +
                     tf.square((p_xmin + p_xmax - t_xmin - t_xmax) / 2.0))
  diagonal = tf.square(hull_h) + tf.square(hull_w) + epsilon
  p_aspect = tf.atan((p_xmax - p_xmin) / (p_ymax - p_ymin + epsilon))
  t_aspect = tf.atan((t_xmax - t_xmin) / (t_ymax - t_ymin + epsilon))
  v = 4.0 / math.pi ** 2 * tf.square(t_aspect - p_aspect)
  alpha = tf.stop_gradient(v / (1.0 - iou + v + epsilon))
  return (1.0 - iou + centre_distance / diagonal + alpha * v) * weights
