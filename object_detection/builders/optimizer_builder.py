"""Builds the Keras optimizer and learning-rate schedule of `train_config.optimizer`.

Registers the names users write in configs:
  OPTIMIZERS:     rms_prop_optimizer, momentum_optimizer, adam_optimizer (and the short forms
                  rms_prop, momentum, adam), called fn(optimizer_message, learning_rate).
  LEARNING_RATES: constant_learning_rate, exponential_decay_learning_rate,
                  manual_step_learning_rate, cosine_decay_learning_rate (and constant,
                  exponential_decay, manual_step, cosine_decay), called fn(learning_rate_message).

TF2 semantics of the original (builders/optimizer_builder.py:build_optimizers_tf_v2):
  rms_prop -> keras RMSprop(rho=decay, momentum=momentum_optimizer_value, epsilon=epsilon)
  momentum -> keras SGD(momentum=momentum_optimizer_value)
  adam     -> keras Adam(epsilon=epsilon)
Adam and momentum are built as training.optimizers.FusedAdam / FusedSGD: the same updates as
Keras', one fused TF kernel per variable (a smaller train-step graph: faster first step).
`use_moving_average` / `moving_average_decay` are read by the train loop
(`training.moving_average`), not here.
"""

import keras

from object_detection.core.errors import ConfigError
from object_detection.core.registries import LEARNING_RATES, OPTIMIZERS
from object_detection.training import learning_schedules
from object_detection.training import optimizers


@LEARNING_RATES.register("constant_learning_rate", "constant")
def _constant(msg):
  return learning_schedules.ConstantSchedule(msg.learning_rate)


@LEARNING_RATES.register("exponential_decay_learning_rate", "exponential_decay")
def _exponential(msg):
  return learning_schedules.ExponentialDecayWithBurnin(
      learning_rate_base=msg.initial_learning_rate, decay_steps=msg.decay_steps,
      decay_factor=msg.decay_factor, staircase=msg.staircase,
      burnin_learning_rate=msg.burnin_learning_rate, burnin_steps=msg.burnin_steps,
      min_learning_rate=msg.min_learning_rate)


@LEARNING_RATES.register("manual_step_learning_rate", "manual_step")
def _manual_step(msg):
  boundaries = [s.step for s in msg.schedule]
  rates = [msg.initial_learning_rate] + [s.learning_rate for s in msg.schedule]
  return learning_schedules.ManualStepSchedule(boundaries, rates, warmup=msg.warmup)


@LEARNING_RATES.register("cosine_decay_learning_rate", "cosine_decay")
def _cosine(msg):
  return learning_schedules.CosineDecayWithWarmup(
      learning_rate_base=msg.learning_rate_base, total_steps=msg.total_steps,
      warmup_learning_rate=msg.warmup_learning_rate, warmup_steps=msg.warmup_steps,
      hold_base_rate_steps=msg.hold_base_rate_steps)


@OPTIMIZERS.register("rms_prop_optimizer", "rms_prop")
def _rms_prop(msg, learning_rate):
  return keras.optimizers.RMSprop(
      learning_rate=learning_rate, rho=msg.decay, momentum=msg.momentum_optimizer_value,
      epsilon=msg.epsilon)


@OPTIMIZERS.register("momentum_optimizer", "momentum")
def _momentum(msg, learning_rate):
  return optimizers.FusedSGD(learning_rate=learning_rate, momentum=msg.momentum_optimizer_value)


@OPTIMIZERS.register("adam_optimizer", "adam")
def _adam(msg, learning_rate):
  return optimizers.FusedAdam(learning_rate=learning_rate, epsilon=msg.epsilon)


def build_learning_rate(learning_rate_config, field_path="train_config.optimizer.learning_rate"):
  """`LearningRate` message -> keras LearningRateSchedule (callable on the global step)."""
  kind = learning_rate_config.WhichOneof("learning_rate")
  if kind is None:
    raise ConfigError(
        f"{field_path}: no learning rate set (expected one of: "
        "constant_learning_rate, exponential_decay_learning_rate, manual_step_learning_rate, "
        "cosine_decay_learning_rate)")
  fn = LEARNING_RATES.get(kind, field_path=field_path)
  return fn(getattr(learning_rate_config, kind))


def build(optimizer_config, field_path="train_config.optimizer"):
  """`Optimizer` message -> (keras optimizer, learning-rate schedule).

  The schedule is evaluated by Keras at `optimizer.iterations`, which the train loop keeps equal
  to the global step (one optimizer update per step).
  """
  kind = optimizer_config.WhichOneof("optimizer")
  if kind is None:
    raise ConfigError(
        f"{field_path}: no optimizer set (expected one of: adam_optimizer, momentum_optimizer, "
        "rms_prop_optimizer)")
  fn = OPTIMIZERS.get(kind, field_path=field_path)
  msg = getattr(optimizer_config, kind)
  schedule = build_learning_rate(msg.learning_rate, f"{field_path}.{kind}.learning_rate")
  return fn(msg, schedule), schedule


def build_optimizers_tf_v2(optimizer_config, global_step=None):
  """The original's name: returns (optimizer, [learning_rate_fn]); `global_step` is unused."""
  del global_step
  optimizer, schedule = build(optimizer_config)
  return optimizer, [lambda: schedule(optimizer.iterations)]
