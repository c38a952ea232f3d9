"""Shared fixtures of the loss tests."""

import pytest
import tensorflow as tf


@pytest.fixture(params=["eager", "tf_function"])
def run(request):
  """Calls a loss eagerly or inside tf.function and returns numpy."""
  def call(fn, *args, **kwargs):
    if request.param == "eager":
      return fn(*args, **kwargs).numpy()
    tensors = [tf.constant(a, tf.float32) for a in args]
    return tf.function(lambda *t: fn(*t, **kwargs))(*tensors).numpy()
  return call
