"""Learning-rate schedules with the original Object Detection API's formulas.

Each schedule is a `keras.optimizers.schedules.LearningRateSchedule`: `schedule(step)` with
`step` a scalar integer tensor (the optimizer's iteration count = global step) returns a scalar
float32 learning rate. Formulas (utils/learning_schedules.py of the original):

  constant:            lr = learning_rate
  exponential_decay:   lr = base * factor ** ((step - burnin_steps) / decay_steps)   (floored
                       when staircase); burnin_learning_rate for step < burnin_steps
                       (0 means "use base"); never below min_learning_rate
  manual_step:         lr = rates[i], i = number of boundaries <= step; with warmup the first
                       interval ramps linearly from rates[0] to rates[1]
  cosine_decay:        lr = 0.5 * base * (1 + cos(pi * (step - warmup - hold) /
                       (total - warmup - hold))); base during the hold; linear warm-up from
                       warmup_learning_rate to base for step < warmup; 0 after total_steps
"""

import math

import keras
import tensorflow as tf

from object_detection.core.errors import ConfigError


def _step_float(step):
  return tf.cast(step, tf.float32)


class ConstantSchedule(keras.optimizers.schedules.LearningRateSchedule):
  """lr = learning_rate for every step."""

  def __init__(self, learning_rate):
    self.learning_rate = float(learning_rate)

  def __call__(self, step):
    return tf.constant(self.learning_rate, tf.float32) + 0.0 * _step_float(step)

  def get_config(self):
    return {"learning_rate": self.learning_rate}


class ExponentialDecayWithBurnin(keras.optimizers.schedules.LearningRateSchedule):
  """The original's `exponential_decay_with_burnin`."""

  def __init__(self, learning_rate_base, decay_steps, decay_factor, staircase=True,
               burnin_learning_rate=0.0, burnin_steps=0, min_learning_rate=0.0):
    if decay_steps <= 0:
      raise ConfigError(
          f"exponential_decay_learning_rate.decay_steps: must be positive (got {decay_steps}; "
          "expected > 0)")
    self.learning_rate_base = float(learning_rate_base)
    self.decay_steps = int(decay_steps)
    self.decay_factor = float(decay_factor)
    self.staircase = bool(staircase)
    self.burnin_learning_rate = float(burnin_learning_rate) or float(learning_rate_base)
    self.burnin_steps = int(burnin_steps)
    self.min_learning_rate = float(min_learning_rate)

  def __call__(self, step):
    step = _step_float(step)
    exponent = (step - self.burnin_steps) / self.decay_steps
    if self.staircase:
      exponent = tf.floor(exponent)
    post_burnin = self.learning_rate_base * tf.pow(self.decay_factor, exponent)
    lr = tf.where(step < self.burnin_steps, self.burnin_learning_rate, post_burnin)
    return tf.maximum(lr, self.min_learning_rate)

  def get_config(self):
    return dict(vars(self))


class ManualStepSchedule(keras.optimizers.schedules.LearningRateSchedule):
  """The original's `manual_stepping`: piecewise constant, optional linear warm-up.

  Args:
    boundaries: increasing list of ints (steps where the rate changes), first > 0 with warmup.
    rates: list of floats, len(boundaries) + 1.
    warmup: ramp linearly from rates[0] (step 0) to rates[1] (step boundaries[0]).
  """

  def __init__(self, boundaries, rates, warmup=False):
    boundaries = [int(b) for b in boundaries]
    rates = [float(r) for r in rates]
    if any(b < 0 for b in boundaries) or any(
        b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:])):
      raise ConfigError(
          "manual_step_learning_rate.schedule: steps must be non-negative and increasing "
          f"(got {boundaries})")
    if len(rates) != len(boundaries) + 1:
      raise ConfigError(
          "manual_step_learning_rate: need one more rate than boundaries "
          f"(got {len(rates)} rates for {len(boundaries)} boundaries)")
    if warmup and (not boundaries or boundaries[0] == 0):
      raise ConfigError(
          "manual_step_learning_rate.warmup: needs a first schedule step > 0 "
          f"(got boundaries {boundaries})")
    self.boundaries, self.rates, self.warmup = boundaries, rates, bool(warmup)

  def __call__(self, step):
    step = _step_float(step)
    rates = tf.constant(self.rates, tf.float32)
    if not self.boundaries:
      return rates[0] + 0.0 * step
    bounds = tf.constant(self.boundaries, tf.float32)
    index = tf.reduce_sum(tf.cast(step >= bounds, tf.int32))
    lr = tf.gather(rates, index)
    if self.warmup:
      slope = (self.rates[1] - self.rates[0]) / self.boundaries[0]
      lr = tf.where(step < self.boundaries[0], self.rates[0] + slope * step, lr)
    return lr

  def get_config(self):
    return {"boundaries": self.boundaries, "rates": self.rates, "warmup": self.warmup}


class CosineDecayWithWarmup(keras.optimizers.schedules.LearningRateSchedule):
  """The original's `cosine_decay_with_warmup` (linear warm-up, optional hold, cosine, 0 after)."""

  def __init__(self, learning_rate_base, total_steps, warmup_learning_rate=0.0, warmup_steps=0,
               hold_base_rate_steps=0):
    if total_steps < warmup_steps:
      raise ConfigError(
          "cosine_decay_learning_rate.total_steps: must be >= warmup_steps "
          f"(got total_steps={total_steps}, warmup_steps={warmup_steps})")
    if warmup_steps > 0 and learning_rate_base < warmup_learning_rate:
      raise ConfigError(
          "cosine_decay_learning_rate.learning_rate_base: must be >= warmup_learning_rate "
          f"(got {learning_rate_base} < {warmup_learning_rate})")
    self.learning_rate_base = float(learning_rate_base)
    self.total_steps = int(total_steps)
    self.warmup_learning_rate = float(warmup_learning_rate)
    self.warmup_steps = int(warmup_steps)
    self.hold_base_rate_steps = int(hold_base_rate_steps)

  def __call__(self, step):
    step = _step_float(step)
    start = self.warmup_steps + self.hold_base_rate_steps
    span = max(self.total_steps - start, 1)
    lr = 0.5 * self.learning_rate_base * (1.0 + tf.cos(math.pi * (step - start) / span))
    if self.hold_base_rate_steps > 0:
      lr = tf.where(step > start, lr, self.learning_rate_base)
    if self.warmup_steps > 0:
      slope = (self.learning_rate_base - self.warmup_learning_rate) / self.warmup_steps
      lr = tf.where(step < self.warmup_steps, self.warmup_learning_rate + slope * step, lr)
    return tf.where(step > self.total_steps, 0.0, lr)

  def get_config(self):
    return dict(vars(self))
