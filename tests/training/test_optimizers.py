"""Fused Adam / momentum updates equal Keras' own, with far fewer ops per variable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from object_detection.training import optimizers


def _run(optimizer, steps=4, jit=False):
  """Applies `steps` updates with fixed gradients to two variables; returns values, slots and
  the op count of one traced update."""
  rng = np.random.default_rng(0)
  variables = [keras.Variable(rng.normal(size=[3, 4]).astype(np.float32)),
               keras.Variable(rng.normal(size=[5]).astype(np.float32))]
  grads = [[tf.constant(rng.normal(size=v.shape).astype(np.float32)) for v in variables]
           for _ in range(steps)]
  optimizer.build(variables)

  @tf.function(jit_compile=jit)
  def apply(g):
    optimizer.apply_gradients(zip(g, variables))

  ops = len(apply.get_concrete_function(grads[0]).graph.get_operations())
  for g in grads:
    apply(g)
  return [v.numpy() for v in variables], [v.numpy() for v in optimizer.variables], ops


@pytest.mark.parametrize("make_fused, make_keras", [
    (lambda lr: optimizers.FusedAdam(lr, epsilon=1e-7),
     lambda lr: keras.optimizers.Adam(lr, epsilon=1e-7)),
    (lambda lr: optimizers.FusedSGD(lr, momentum=0.9),
     lambda lr: keras.optimizers.SGD(lr, momentum=0.9)),
    (lambda lr: optimizers.FusedSGD(lr, momentum=0.9, nesterov=True),
     lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True)),
], ids=["adam", "momentum", "nesterov"])
def test_fused_updates_equal_keras(make_fused, make_keras):
  schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
  values, slots, fused_ops = _run(make_fused(schedule))
  want_values, want_slots, keras_ops = _run(make_keras(schedule))
  for got, want in zip(values + slots, want_values + want_slots):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # float32 op order
  assert fused_ops < keras_ops


def test_slot_names_match_keras_for_checkpoints():
  for fused, plain in ((optimizers.FusedAdam(0.1), keras.optimizers.Adam(0.1)),
                       (optimizers.FusedSGD(0.1, 0.9), keras.optimizers.SGD(0.1, 0.9))):
    variables = [keras.Variable(np.zeros([2], np.float32), name="w")]
    fused.build(variables)
    plain.build(variables)
    strip = lambda path: path.split("/", 1)[1]  # pylint: disable=unnecessary-lambda-assignment
    assert ([strip(v.path) for v in fused.variables] ==
            [strip(v.path) for v in plain.variables])


def test_sparse_gradients_fall_back_to_keras():
  table = keras.Variable(np.ones([4, 2], np.float32))
  optimizer = optimizers.FusedAdam(0.1)
  optimizer.build([table])
  grad = tf.IndexedSlices(tf.ones([1, 2]), tf.constant([2]), tf.constant([4, 2]))
  optimizer.apply_gradients([(grad, table)])
  changed = np.any(table.numpy() != 1.0, axis=1)
  assert changed.tolist() == [False, False, True, False]


def _applier(optimizer, variables):
  return lambda grads: optimizer.apply_gradients(zip(grads, variables))


def test_one_fused_op_and_shared_scalars_per_variable():
  """The per-step scalars are built once per apply, whatever the number of variables."""
  counts = {}
  for n in (2, 12):
    variables = [keras.Variable(np.ones([3], np.float32)) for _ in range(n)]
    optimizer = optimizers.FusedAdam(0.1)
    optimizer.build(variables)

    graph = tf.function(_applier(optimizer, variables)).get_concrete_function(
        [tf.ones([3])] * n).graph
    types = [op.type for op in graph.get_operations()]
    assert types.count("ResourceApplyAdam") == n
    assert types.count("Pow") == 2
    counts[n] = len(types)
  assert (counts[12] - counts[2]) / 10 <= 6  # ops added per extra variable


def test_two_applies_in_one_graph_use_their_own_step():
  """A constant learning rate is the same object in both applies: the second must still read
  the incremented iteration count (Adam's bias correction)."""
  results = []
  for cls in (optimizers.FusedAdam, keras.optimizers.Adam):
    variable = keras.Variable(np.ones([2], np.float32))
    optimizer = cls(0.1)
    optimizer.build([variable])

    apply = _applier(optimizer, [variable])
    tf.function(lambda apply=apply: [apply([tf.constant([1.0, -2.0])]),
                                     apply([tf.constant([0.5, 0.5])])])()
    results.append(variable.numpy())
  np.testing.assert_allclose(results[0], results[1], rtol=1e-5)  # a stale step: ~5e-2
