"""The fused batch norm equals Keras' BatchNormalization: outputs, gradients, moving statistics."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from object_detection.models import batch_norm


def _pair(**kwargs):
  keras.utils.set_random_seed(0)
  fused = batch_norm.BatchNormalization(**kwargs)
  plain = keras.layers.BatchNormalization(**kwargs)
  x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, [2, 5, 6, 8]), tf.float32)
  fused.build(x.shape)
  plain.build(x.shape)
  rng = np.random.default_rng(2)
  for f, p in zip(fused.weights, plain.weights):
    value = rng.uniform(0.5, 1.5, f.shape).astype(np.float32)
    f.assign(value)
    p.assign(value)
  return fused, plain, x


def _run(layer, x, training, jit=False):
  @tf.function(jit_compile=jit)
  def run(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x, training=training)
      loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.range(8, dtype=tf.float32))
    return y, tape.gradient(loss, [x] + layer.trainable_weights)
  return run(x)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [dict(momentum=0.1, epsilon=1e-5, synchronized=True),
                                    dict(epsilon=1.001e-5), dict(center=False, scale=False)],
                         ids=["hourglass", "resnet", "no_affine"])
def test_fused_equals_keras(training, kwargs):
  fused, plain, x = _pair(**kwargs)
  for _ in range(2):  # twice: the moving statistics are updated and then used
    y, grads = _run(fused, x, training)
    want_y, want_grads = _run(plain, x, training)
    np.testing.assert_allclose(y, want_y, rtol=1e-4, atol=1e-5)
    for g, w in zip(grads, want_grads):
      np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    for f, p in zip(fused.non_trainable_weights, plain.non_trainable_weights):
      np.testing.assert_allclose(f.numpy(), p.numpy(), rtol=1e-5, err_msg=f.path)
  graph = tf.function(lambda t: fused(t, training=training)).get_concrete_function(x).graph
  assert "FusedBatchNormV3" in [op.type for op in graph.get_operations()]


def test_bfloat16_xla_and_fallbacks():
  fused, plain, x = _pair(momentum=0.1, epsilon=1e-5)
  fused.dtype_policy = plain.dtype_policy = "mixed_bfloat16"
  y, _ = _run(fused, x, True)
  want, _ = _run(plain, x, True)
  assert y.dtype == tf.bfloat16
  np.testing.assert_allclose(tf.cast(y, tf.float32), tf.cast(want, tf.float32), rtol=2e-2,
                             atol=2e-2)
  for f, p in zip(fused.non_trainable_weights, plain.non_trainable_weights):
    assert f.dtype == "float32"
    np.testing.assert_allclose(f.numpy(), p.numpy(), rtol=1e-2)
  fused, plain, x = _pair()
  np.testing.assert_allclose(_run(fused, x, True, jit=True)[0], _run(plain, x, True)[0],
                             rtol=1e-4, atol=1e-5)
  flat = batch_norm.BatchNormalization()  # 2-D input: Keras' own path
  out = flat(tf.ones([3, 4]), training=True)
  assert out.shape == (3, 4)
