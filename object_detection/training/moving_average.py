"""Exponential moving averages of the trainable weights (`train_config.use_moving_average`).

The original (TF2) wraps the optimizer in Model Garden's `ExponentialMovingAverage` with
`average_decay = moving_average_decay` and dynamic decay: at update number n (the global step
after the update), decay_n = min(decay, (1 + n) / (10 + n)). Averages live in shadow variables
tracked by the training checkpoint under the key `moving_average`; eval and export swap them into
the model (`swapped_weights`) or copy them in for good (`assign_to_model`).
"""

import contextlib

import tensorflow as tf


class MovingAverage(tf.Module):
  """Shadow copies of `variables`, updated after each optimizer step.

  Args:
    variables: list of tf.Variable (the model's trainable weights), already created.
    decay: float in (0, 1), e.g. 0.9999.
    dynamic_decay: use min(decay, (1 + n) / (10 + n)) as the original.
  Create it under the strategy scope that owns the variables (shadows mirror them).
  """

  def __init__(self, variables, decay, dynamic_decay=True, name="moving_average"):
    super().__init__(name=name)
    if not 0.0 < decay < 1.0:
      raise ValueError(f"MovingAverage: decay must be in (0, 1) (got {decay})")
    self._variables = list(variables)
    self._decay = float(decay)
    self._dynamic = bool(dynamic_decay)
    self.averages = [
        tf.Variable(tf.identity(tf.convert_to_tensor(v)), trainable=False, name=f"average_{i}",
                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
                    synchronization=tf.VariableSynchronization.ON_WRITE)
        for i, v in enumerate(self._variables)]

  def decay_at(self, step):
    """[] float32 decay used for the update whose resulting global step is `step`."""
    step = tf.cast(step, tf.float32)
    if not self._dynamic:
      return tf.constant(self._decay)
    return tf.minimum(self._decay, (1.0 + step) / (10.0 + step))

  def update(self, step):
    """average <- decay * average + (1 - decay) * value (call in replica or cross-replica ctx)."""
    decay = self.decay_at(step)
    for avg, var in zip(self.averages, self._variables):
      avg.assign(decay * avg + (1.0 - decay) * tf.cast(var, avg.dtype))

  def _swap(self):
    for avg, var in zip(self.averages, self._variables):
      value = tf.identity(tf.convert_to_tensor(var))
      var.assign(avg)
      avg.assign(value)

  @contextlib.contextmanager
  def swapped_weights(self):
    """Context in which the model holds the averages (restored on exit, even on error)."""
    self._swap()
    try:
      yield
    finally:
      self._swap()

  def assign_to_model(self):
    """Copies the averages into the model's variables (eval/export of a restored checkpoint)."""
    for avg, var in zip(self.averages, self._variables):
      var.assign(avg)
