"""Classification losses of losses.proto (pure: per-element values, no reduction).

Same per-element semantics as the original's core/losses.py classes. Shapes follow the original's
anchor layout: `prediction` and `target` are `[batch, num_anchors, num_classes]` (any number of
leading axes works; the class axis is the last one). `weights` broadcast against them: either
`[batch, num_anchors, num_classes]` or `[batch, num_anchors, 1]` (all classes weighted alike).
The caller sums and normalises (by the number of anchors, positives, pixels...) as the model does.
"""

import tensorflow as tf


def _as_float(x):
  return tf.cast(tf.convert_to_tensor(x), tf.float32)


def _class_mask(class_indices, num_classes):
  """[num_classes] float32 with 1.0 at `class_indices` (0-based), 0.0 elsewhere."""
  class_indices = tf.cast(tf.reshape(class_indices, [-1]), tf.int32)
  one_hot = tf.one_hot(class_indices, num_classes, dtype=tf.float32)  # [n, num_classes]
  return tf.minimum(tf.reduce_sum(one_hot, axis=0), 1.0)


def _apply_class_indices(weights, class_indices, prediction):
  """Zeroes the weights of the classes not listed in `class_indices` (None: keep all)."""
  if class_indices is None:
    return weights
  return weights * _class_mask(class_indices, tf.shape(prediction)[-1])


def weighted_sigmoid(prediction, target, weights, class_indices=None):
  """Sigmoid cross-entropy per class: -t log s(x) - (1 - t) log(1 - s(x)), times weights.

  Args:
    prediction: [B, A, K] float32 logits.
    target: [B, A, K] float32 targets in [0, 1] (one-hot, or soft, e.g. DeepMAC mask targets).
    weights: [B, A, K] or [B, A, 1] float32.
    class_indices: optional [n] int 0-based classes to keep; the others get weight 0.
  Returns:
    [B, A, K] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  weights = _apply_class_indices(weights, class_indices, prediction)
  return tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=prediction) * weights


def sigmoid_focal(prediction, target, weights, gamma=2.0, alpha=0.25, class_indices=None):
  """Focal loss (Lin et al. 2017): (1 - p_t)^gamma * alpha_t * sigmoid cross-entropy, times weights.

  p_t = t * s(x) + (1 - t) * (1 - s(x)); alpha_t = t * alpha + (1 - t) * (1 - alpha), or 1 when
  `alpha` is None (the proto's unset `alpha`); gamma == 0 means no modulating factor.

  Args:
    prediction: [B, A, K] float32 logits.
    target: [B, A, K] float32 one-hot targets.
    weights: [B, A, K] or [B, A, 1] float32.
    gamma: float focusing exponent.
    alpha: float in [0, 1] or None.
    class_indices: optional [n] int 0-based classes to keep.
  Returns:
    [B, A, K] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  weights = _apply_class_indices(weights, class_indices, prediction)
  cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=prediction)
  probabilities = tf.sigmoid(prediction)
  p_t = target * probabilities + (1.0 - target) * (1.0 - probabilities)
  modulating = tf.pow(1.0 - p_t, gamma) if gamma else 1.0
  alpha_factor = 1.0 if alpha is None else target * alpha + (1.0 - target) * (1.0 - alpha)
  return modulating * alpha_factor * cross_entropy * weights


def _softmax_weights(weights):
  # The original reduces per-class weights to one weight per anchor by their mean.
  return tf.reduce_mean(weights, axis=-1)


def weighted_softmax(prediction, target, weights, logit_scale=1.0):
  """Softmax cross-entropy over the class axis of prediction / logit_scale, times weights.

  Args:
    prediction: [B, A, K] float32 logits (background column included when the model has one).
    target: [B, A, K] float32 one-hot (or probability) targets.
    weights: [B, A, K] or [B, A, 1] float32; reduced to one weight per anchor by their mean.
    logit_scale: float temperature (> 1 flattens, < 1 sharpens the prediction).
  Returns:
    [B, A] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  logits = prediction / logit_scale
  return tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=logits) * _softmax_weights(
      weights)


def weighted_logits_softmax(prediction, target, weights, logit_scale=1.0):
  """Softmax cross-entropy against soft targets given as logits (distillation), times weights.

  Both prediction and target are divided by logit_scale; the target goes through a softmax.

  Args:
    prediction: [B, A, K] float32 logits.
    target: [B, A, K] float32 target logits.
    weights: [B, A, K] or [B, A, 1] float32; reduced to one weight per anchor by their mean.
    logit_scale: float temperature.
  Returns:
    [B, A] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  target_probabilities = tf.nn.softmax(target / logit_scale, axis=-1)
  return tf.nn.softmax_cross_entropy_with_logits(
      labels=target_probabilities, logits=prediction / logit_scale) * _softmax_weights(weights)


def bootstrapped_sigmoid(prediction, target, weights, alpha, hard_bootstrap=False):
  """Sigmoid cross-entropy against alpha * target + (1 - alpha) * model belief (Reed et al. 2015).

  The belief is s(x) ("soft") or 1[s(x) > 0.5] ("hard"). As in the original, the gradient also
  flows through the soft belief (no stop_gradient).

  Args:
    prediction: [B, A, K] float32 logits.
    target: [B, A, K] float32 one-hot targets.
    weights: [B, A, K] or [B, A, 1] float32.
    alpha: float in [0, 1], weight of the labels.
    hard_bootstrap: bool.
  Returns:
    [B, A, K] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  belief = tf.sigmoid(prediction)
  if hard_bootstrap:
    belief = tf.cast(belief > 0.5, tf.float32)
  mixed_target = alpha * target + (1.0 - alpha) * belief
  return tf.nn.sigmoid_cross_entropy_with_logits(labels=mixed_target, logits=prediction) * weights


def weighted_dice(prediction, target, weights, squared_normalization=False,
                  is_prediction_probability=False, class_indices=None):
  """Dice loss 1 - 2 sum(p t) / max(sum(p) + sum(t), 1) over the pixel axis (axis 1).

  p = s(prediction) (or prediction itself when is_prediction_probability); with
  squared_normalization p and t are squared (in the numerator too, as the original). p and t are
  multiplied by the weights before the sums.

  Args:
    prediction: [B, P, K] float32 logits (or probabilities), P = flattened mask pixels.
    target: [B, P, K] float32 targets in [0, 1].
    weights: [B, P, K] or [B, P, 1] float32.
    squared_normalization: bool.
    is_prediction_probability: bool.
    class_indices: optional [n] int 0-based classes to keep.
  Returns:
    [B, K] float32 loss.
  """
  prediction, target, weights = _as_float(prediction), _as_float(target), _as_float(weights)
  weights = _apply_class_indices(weights, class_indices, prediction)
  probabilities = prediction if is_prediction_probability else tf.sigmoid(prediction)
  if squared_normalization:
    probabilities = tf.square(probabilities)
    target = tf.square(target)
  probabilities *= weights
  target *= weights
  prediction_area = tf.reduce_sum(probabilities, axis=1)
  target_area = tf.reduce_sum(target, axis=1)
  intersection = tf.reduce_sum(probabilities * target, axis=1)
  return 1.0 - 2.0 * intersection / tf.maximum(prediction_area + target_area, 1.0)
