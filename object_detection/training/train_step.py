"""One training step of a DetectionModel (the original's eager_train_step), per replica.

    preprocessed images + true shapes + ground truth -> model.predict(training=True)
    -> model.loss -> + regularization (sum of model.losses) -> total
    -> total / num_replicas -> gradients -> clip_by_global_norm (per replica, as the original)
    -> optimizer.apply_gradients (Keras sums over replicas) -> EMA update -> global_step += 1

Returned losses are the un-normalized per-replica values keyed by `fields.LossNames`
(plus `Loss/normalized_total_loss`), to be averaged over replicas for logging.
"""

import tensorflow as tf

from object_detection.core import fields
from object_detection.core import randomness

IMAGE = fields.InputDataFields.image
TRUE_SHAPE = fields.InputDataFields.true_image_shape
TOTAL = fields.LossNames.total
REGULARIZATION = fields.LossNames.regularization
NORMALIZED_TOTAL = "Loss/normalized_total_loss"


def compute_losses(model, features, labels, training=True, add_regularization_loss=True):
  """-> (losses dict with Loss/total_loss, predictions). Pure forward; no gradient here."""
  predictions = model.predict(features[IMAGE], features[TRUE_SHAPE], groundtruth=labels,
                              training=training)
  raw = model.loss(predictions, features[TRUE_SHAPE], labels, training=training)
  losses = {k: tf.cast(v, tf.float32) for k, v in raw.items() if k != TOTAL}
  if add_regularization_loss and model.losses:
    losses[REGULARIZATION] = tf.add_n([tf.cast(l, tf.float32) for l in model.losses])
  losses[TOTAL] = tf.add_n(list(losses.values()))
  return losses, predictions


def make_replica_step(model, optimizer, global_step, num_replicas, gradient_clipping_by_norm=0.0,
                      add_regularization_loss=True, moving_average=None, jit_compile=False,
                      seed=0):
  """Returns step(features, labels) -> losses dict, to run with `strategy.run`.

  With jit_compile the forward/backward pass is compiled by XLA (the optimizer update stays
  outside: Keras' distributed update is not XLA-compilable in replica context). The model's
  random ops draw stateless seeds keyed by (seed, global step, replica) (core/randomness.py).
  """

  def forward_backward(features, labels, step_seed):
    with tf.GradientTape() as tape, randomness.step_scope(step_seed):
      losses, _ = compute_losses(model, features, labels, True, add_regularization_loss)
      normalized = losses[TOTAL] / tf.cast(num_replicas, tf.float32)
    variables = model.trainable_variables
    grads = tape.gradient(normalized, variables)
    # Heads unused by this batch (or by this model variant) have no gradient: use zeros so the
    # variable list is static.
    grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
    if gradient_clipping_by_norm > 0:
      grads, _ = tf.clip_by_global_norm(grads, gradient_clipping_by_norm)
    losses[NORMALIZED_TOTAL] = normalized
    return losses, grads

  if jit_compile:
    forward_backward = tf.function(forward_backward, jit_compile=True)

  def step(features, labels):
    context = tf.distribute.get_replica_context()
    replica = context.replica_id_in_sync_group if context is not None else 0
    step_seed = randomness.step_seed(seed, global_step.read_value(), replica)
    losses, grads = forward_backward(features, labels, step_seed)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    global_step.assign_add(1)
    if moving_average is not None:
      moving_average.update(global_step)
    return losses

  return step
