"""CenterNet losses: penalty-reduced logistic focal loss and L1 (pure, no reduction).

Each function returns the per-element loss already multiplied by `weights`; the caller sums and
normalises as the original (sum / (num_stacks * num_boxes), see object_center_task / box_task).
"""

import tensorflow as tf

SIGMOID_CLIP = 1e-4


def penalty_reduced_logistic_focal_loss(prediction, target, weights=1.0, alpha=2.0, beta=4.0,
                                        sigmoid_clip_value=SIGMOID_CLIP):
  """CornerNet/CenterNet focal loss on Gaussian heatmap targets.

  p = clip(sigmoid(prediction), c, 1 - c). Where target == 1.0 exactly (a centre):
  -(1 - p)^alpha * log(p); elsewhere: -(1 - target)^beta * p^alpha * log(1 - p).

  Args:
    prediction: [...] float32 logits.
    target: [...] float32 heatmap in [0, 1].
    weights: float32 broadcastable to `prediction` (e.g. [B, H, W, 1] valid-region weights).
    alpha, beta: floats (2.0 and 4.0 in the configs).
    sigmoid_clip_value: float, clip of the probabilities (1e-4, as the original).
  Returns:
    [...] float32 per-element loss times weights.
  """
  prediction = tf.cast(prediction, tf.float32)  # bfloat16 heads: the loss runs in float32
  target = tf.cast(target, tf.float32)
  p = tf.clip_by_value(tf.sigmoid(prediction), sigmoid_clip_value, 1.0 - sigmoid_clip_value)
  positive = tf.pow(1.0 - p, alpha) * tf.math.log(p)
  negative = tf.pow(1.0 - target, beta) * tf.pow(p, alpha) * tf.math.log(1.0 - p)
  return -tf.where(tf.equal(target, 1.0), positive, negative) * weights


def l1(prediction, target, weights=1.0):
  """|prediction - target| * weights, element-wise (tf.losses.absolute_difference, no reduction).

  Args:
    prediction, target: [...] float32 (e.g. [B, N, 2] sizes or offsets in output cells).
    weights: float32 broadcastable to them (e.g. [B, N, 1] instance weights).
  Returns:
    [...] float32.
  """
  prediction = tf.cast(prediction, tf.float32)
  return tf.abs(prediction - tf.cast(target, tf.float32)) * weights
