"""Keras Adam and SGD-with-momentum whose per-variable update is one fused TensorFlow kernel.

Keras 3's optimizers build every variable's update from ~20 small ops (casts, powers, three
assignments); a model with a thousand variables then adds ~25k ops to the train-step graph,
which costs tracing time, graph-optimization time before the first step, and executor overhead
at every step. These subclasses compute the same update with TensorFlow's fused training
kernels, one op per variable:
  Adam:     ResourceApplyAdam:          m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
            var -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)    (t = iterations + 1)
  Momentum: ResourceApplyKerasMomentum: m = momentum m - lr g; var += m
            (Nesterov: var += momentum m - lr g)
which is keras.optimizers.Adam / SGD's update_step formula for formula (tests pin the equality).
Everything else (schedules, clipping, distribution, slots and their checkpoint names) is Keras'.
Sparse gradients (IndexedSlices), amsgrad and non-float32 variables use Keras' own update.
"""

import keras
import tensorflow as tf


def _handle(variable):
  """The resource handle of a Keras or tf.Variable (the current replica's inside update())."""
  if isinstance(variable, keras.Variable):
    variable = variable.value
  return variable.handle


class _PerStepScalars:
  """Mixin: `self._per_step(learning_rate, make)` builds `make()` once per `apply` call."""

  def apply(self, grads, trainable_variables=None):
    self.__dict__["_fused_step_cache"] = None  # a new step: iterations has moved
    try:
      return super().apply(grads, trainable_variables)
    finally:
      self.__dict__["_fused_step_cache"] = None

  def _per_step(self, learning_rate, make):
    return _per_step(self, learning_rate, make)


def _per_step(optimizer, learning_rate, make):
  """`make()` (per-step scalar tensors) once per traced apply, not once per variable.

  Keras calls update_step for every variable with the same `learning_rate` (tensor or
  variable); the scalars derived from it and from `iterations` are cached per graph being built
  and dropped at the end of each `apply` (so a second apply in the same graph reads the new
  iteration count).
  """
  if tf.executing_eagerly():
    return make()
  graph = tf.compat.v1.get_default_graph()
  cache = optimizer.__dict__.get("_fused_step_cache")  # __dict__: no Keras attribute tracking
  if cache is None or cache[0] is not learning_rate or cache[1] is not graph:
    cache = (learning_rate, graph, make())
    optimizer.__dict__["_fused_step_cache"] = cache
  return cache[2]


def _dense_float32(gradient, variable):
  return (not isinstance(gradient, tf.IndexedSlices)
          and tf.as_dtype(variable.dtype) == tf.float32)


class FusedAdam(_PerStepScalars, keras.optimizers.Adam):
  """keras.optimizers.Adam with TensorFlow's fused ResourceApplyAdam update."""

  def __init__(self, *args, **kwargs):
    kwargs.setdefault("name", "adam")  # Keras' variable paths (adam/m, ...), not fused_adam
    super().__init__(*args, **kwargs)

  def update_step(self, gradient, variable, learning_rate):
    if self.amsgrad or not _dense_float32(gradient, variable):
      return super().update_step(gradient, variable, learning_rate)
    index = self._get_variable_index(variable)

    def scalars():
      step = tf.cast(self.iterations + 1, tf.float32)
      beta_1 = tf.constant(self.beta_1, tf.float32)
      beta_2 = tf.constant(self.beta_2, tf.float32)
      return (tf.pow(beta_1, step), tf.pow(beta_2, step), tf.cast(learning_rate, tf.float32),
              beta_1, beta_2, tf.constant(self.epsilon, tf.float32))

    beta_1_power, beta_2_power, lr, beta_1, beta_2, epsilon = self._per_step(learning_rate,
                                                                        scalars)
    return tf.raw_ops.ResourceApplyAdam(
        var=_handle(variable), m=_handle(self._momentums[index]),
        v=_handle(self._velocities[index]), beta1_power=beta_1_power, beta2_power=beta_2_power,
        lr=lr, beta1=beta_1, beta2=beta_2, epsilon=epsilon,
        grad=tf.cast(gradient, tf.float32), use_locking=False)


class FusedSGD(_PerStepScalars, keras.optimizers.SGD):
  """keras.optimizers.SGD with TensorFlow's fused ResourceApplyKerasMomentum update."""

  def __init__(self, *args, **kwargs):
    kwargs.setdefault("name", "sgd")  # what Keras names SGD
    super().__init__(*args, **kwargs)

  def update_step(self, gradient, variable, learning_rate):
    if self.momentum == 0 or not _dense_float32(gradient, variable):
      return super().update_step(gradient, variable, learning_rate)
    m = self.momentums[self._get_variable_index(variable)]
    lr, momentum = self._per_step(learning_rate, lambda: (
        tf.cast(learning_rate, tf.float32), tf.constant(self.momentum, tf.float32)))
    return tf.raw_ops.ResourceApplyKerasMomentum(
        var=_handle(variable), accum=_handle(m), lr=lr, grad=tf.cast(gradient, tf.float32),
        momentum=momentum, use_locking=False, use_nesterov=bool(self.nesterov))
