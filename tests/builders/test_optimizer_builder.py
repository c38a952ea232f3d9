"""Learning-rate schedules vs hand-computed values; optimizer builder from messages."""

import math
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from object_detection.builders import optimizer_builder
from object_detection.core.errors import ConfigError
from object_detection.training import learning_schedules as ls


def _values(schedule, steps):
  eager = [float(schedule(tf.constant(s, tf.int64))) for s in steps]
  graph = tf.function(lambda s: schedule(s))
  in_fn = [float(graph(tf.constant(s, tf.int64))) for s in steps]
  np.testing.assert_allclose(eager, in_fn, rtol=1e-6)
  return eager


def test_cosine_with_warmup_and_hold():
  s = ls.CosineDecayWithWarmup(1.0, total_steps=110, warmup_learning_rate=0.1, warmup_steps=10,
                               hold_base_rate_steps=0)
  got = _values(s, [0, 5, 10, 60, 110, 111])
  want = [0.1, 0.1 + 0.09 * 5, 1.0, 0.5 * (1 + math.cos(math.pi * 50 / 100)), 0.0, 0.0]
  np.testing.assert_allclose(got, want, atol=1e-6)
  held = ls.CosineDecayWithWarmup(2.0, total_steps=40, warmup_learning_rate=0.0, warmup_steps=10,
                                  hold_base_rate_steps=10)
  np.testing.assert_allclose(_values(held, [15, 20, 30]), [2.0, 2.0, 1.0], atol=1e-6)


def test_exponential_decay_with_burnin_staircase_and_floor():
  s = ls.ExponentialDecayWithBurnin(1.0, decay_steps=10, decay_factor=0.5, staircase=True,
                                    burnin_learning_rate=0.01, burnin_steps=5,
                                    min_learning_rate=0.2)
  np.testing.assert_allclose(_values(s, [0, 4, 5, 14, 15, 100]),
                             [0.2, 0.2, 1.0, 1.0, 0.5, 0.2], atol=1e-6)  # 0.01 floored at 0.2
  smooth = ls.ExponentialDecayWithBurnin(1.0, 10, 0.5, staircase=False)
  np.testing.assert_allclose(_values(smooth, [5]), [0.5 ** 0.5], rtol=1e-6)


def test_manual_step_with_and_without_warmup():
  s = ls.ManualStepSchedule([10, 20], [1.0, 0.1, 0.01])
  np.testing.assert_allclose(_values(s, [0, 9, 10, 19, 20, 99]),
                             [1.0, 1.0, 0.1, 0.1, 0.01, 0.01], atol=1e-7)
  w = ls.ManualStepSchedule([10, 20], [0.0, 1.0, 0.5], warmup=True)
  np.testing.assert_allclose(_values(w, [0, 5, 10, 25]), [0.0, 0.5, 1.0, 0.5], atol=1e-7)
  with pytest.raises(ConfigError, match="increasing"):
    ls.ManualStepSchedule([20, 10], [1.0, 0.1, 0.01])
  with pytest.raises(ConfigError, match="total_steps"):
    ls.CosineDecayWithWarmup(1.0, total_steps=5, warmup_steps=10)


class _Msg(types.SimpleNamespace):
  """A stand-in for a proto message with one oneof set."""

  def WhichOneof(self, _):  # noqa: N802 (protobuf's name)
    return self.which


def _optimizer_msg(kind, **fields):
  lr = _Msg(which="cosine_decay_learning_rate", cosine_decay_learning_rate=_Msg(
      learning_rate_base=0.1, total_steps=100, warmup_learning_rate=0.01, warmup_steps=10,
      hold_base_rate_steps=0))
  return _Msg(which=kind, **{kind: _Msg(learning_rate=lr, **fields)})


@pytest.mark.parametrize("kind,fields,cls", [
    ("adam_optimizer", {"epsilon": 1e-7}, keras.optimizers.Adam),
    ("momentum_optimizer", {"momentum_optimizer_value": 0.8}, keras.optimizers.SGD),
    ("rms_prop_optimizer", {"momentum_optimizer_value": 0.9, "decay": 0.9, "epsilon": 1.0},
     keras.optimizers.RMSprop),
])
def test_builds_optimizer_with_schedule(kind, fields, cls):
  opt, schedule = optimizer_builder.build(_optimizer_msg(kind, **fields))
  assert isinstance(opt, cls)
  assert float(schedule(0)) == pytest.approx(0.01)
  assert float(opt.learning_rate) == pytest.approx(0.01)  # evaluated at iterations = 0
  if kind == "momentum_optimizer":
    assert opt.momentum == pytest.approx(0.8)


def test_unknown_optimizer_is_a_config_error():
  with pytest.raises(ConfigError, match="train_config.optimizer: no optimizer set"):
    optimizer_builder.build(_Msg(which=None))
  with pytest.raises(ConfigError, match="did you mean"):
    optimizer_builder.build(_optimizer_msg("adam_optimiser"))


def test_builds_from_the_real_proto_with_the_original_defaults():
  from google.protobuf import text_format
  from object_detection.protos import optimizer_pb2
  msg = text_format.Parse("""
    rms_prop_optimizer {
      learning_rate { manual_step_learning_rate {
        initial_learning_rate: 0.1
        schedule { step: 10 learning_rate: 0.01 }
        schedule { step: 20 learning_rate: 0.001 } } }
    }""", optimizer_pb2.Optimizer())
  opt, schedule = optimizer_builder.build(msg)
  assert isinstance(opt, keras.optimizers.RMSprop)
  assert opt.rho == pytest.approx(0.9) and opt.momentum == pytest.approx(0.9)
  assert opt.epsilon == pytest.approx(1.0)  # the proto's default, not Keras'
  np.testing.assert_allclose(_values(schedule, [0, 10, 25]), [0.1, 0.01, 0.001], rtol=1e-6)
  assert msg.use_moving_average  # the original's default (read by the train loop)
  default = optimizer_builder.build_learning_rate(text_format.Parse(
      "cosine_decay_learning_rate {}", optimizer_pb2.LearningRate()))
  assert float(default(0)) == pytest.approx(0.0002)  # warmup_learning_rate default
