"""Training-time randomness that a resumed run replays exactly: stateless seeds keyed by the step.

A stateful random op (`tf.random.uniform` without a seed) keeps its state in the op's kernel,
which no checkpoint holds: after a restart it starts its sequence again, so a resumed run draws
different numbers than an uninterrupted one. Inside a training step the train loop opens

    with randomness.step_scope(randomness.step_seed(run_seed, global_step, replica_id)):
      losses = model.loss(...)

and every random op of the model asks `randomness.op_seed()` for its own stateless seed: the
step's seed folded with a counter of the random ops traced so far in this step (the trace order
is fixed, so each op gets the same salt at every step and on every restart). Outside a step
scope (evaluation, inference, unit tests) `op_seed()` returns None and the ops fall back to
their own seeds or to stateful randomness.

Seeds are [2] int64 tensors (the `tf.random.stateless_*` convention).
"""

import contextlib
import threading

import tensorflow as tf

_STATE = threading.local()


def step_seed(run_seed, step, replica_id=0):
  """[2] int64 seed of one training step: (run seed, global step) folded with the replica id.

  Args:
    run_seed: int or [] int64 tensor, the run's seed (saved with the checkpoints).
    step: [] int64 tensor or int, the global step the step starts from.
    replica_id: [] int32 tensor or int, `replica_id_in_sync_group` (replicas draw differently).
  """
  base = tf.stack([tf.cast(run_seed, tf.int64), tf.cast(step, tf.int64)])
  return tf.random.experimental.stateless_fold_in(base, tf.cast(replica_id, tf.int64))


@contextlib.contextmanager
def step_scope(seed):
  """Makes `op_seed()` derive seeds from `seed` ([2] int64) while the step is traced."""
  previous = (getattr(_STATE, "seed", None), getattr(_STATE, "count", 0))
  _STATE.seed, _STATE.count = seed, 0
  try:
    yield
  finally:
    _STATE.seed, _STATE.count = previous


def op_seed():
  """A fresh [2] int64 stateless seed for the next random op of the step, or None outside one."""
  seed = getattr(_STATE, "seed", None)
  if seed is None:
    return None
  _STATE.count += 1
  return tf.random.experimental.stateless_fold_in(seed, _STATE.count)
