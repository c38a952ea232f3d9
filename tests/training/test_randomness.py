"""The model's random ops draw stateless seeds keyed by (run seed, step, replica) inside a train
step (core/randomness.py), so a resumed run draws the same numbers as an uninterrupted one."""

import numpy as np
import tensorflow as tf

from object_detection.core import randomness
from object_detection.ops import box_jitter, sampler

BOXES = tf.constant([[0.1, 0.1, 0.5, 0.5], [0.2, 0.3, 0.9, 0.8]])


def _jitter_at(step, run_seed=7):
  with randomness.step_scope(randomness.step_seed(run_seed, step)):
    first = box_jitter.random_jitter_boxes(BOXES, 0.3)
    second = box_jitter.random_jitter_boxes(BOXES, 0.3)
  return first.numpy(), second.numpy()


def test_outside_a_step_there_is_no_seed():
  assert randomness.op_seed() is None


def test_same_step_same_draws_other_step_other_draws():
  a1, a2 = _jitter_at(5)
  b1, b2 = _jitter_at(5)
  np.testing.assert_array_equal(a1, b1)
  np.testing.assert_array_equal(a2, b2)
  assert not np.array_equal(a1, a2)  # two ops of one step draw differently
  assert not np.array_equal(a1, _jitter_at(6)[0])
  assert not np.array_equal(a1, _jitter_at(5, run_seed=8)[0])


def test_replicas_draw_differently():
  a = randomness.step_seed(1, 3, replica_id=0).numpy()
  b = randomness.step_seed(1, 3, replica_id=1).numpy()
  assert a.shape == (2,) and not np.array_equal(a, b)


def test_inside_tf_function_the_step_variable_keys_the_draws():
  step = tf.Variable(0, dtype=tf.int64)

  @tf.function
  def draw():
    with randomness.step_scope(randomness.step_seed(7, step.read_value())):
      out = box_jitter.random_jitter_boxes(BOXES, 0.3)
      picked = sampler.balanced_sample(tf.ones([20], tf.bool), tf.range(20) < 10, 6, 0.5)
    step.assign_add(1)
    return out, picked

  first = [tuple(t.numpy() for t in draw()) for _ in range(3)]
  step.assign(1)  # "resume" at step 1
  again = tuple(t.numpy() for t in draw())
  np.testing.assert_array_equal(again[0], first[1][0])
  np.testing.assert_array_equal(again[1], first[1][1])
  assert not np.array_equal(first[0][0], first[1][0])
  np.testing.assert_array_equal(_jitter_at(0)[0], first[0][0])  # eager == graph
  assert first[0][1].sum() == 6
