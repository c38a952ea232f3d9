"""Train loop with the tiny fake model: resume, NaN guard, fine-tune restore, EMA, XLA, summaries."""

import glob
import os
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config  # disable_op_determinism

from object_detection.core.errors import ConfigError
from object_detection.training import checkpoints
from object_detection.training import interrupts
from object_detection.training import learning_schedules as ls
from object_detection.training import testing
from object_detection.training import train_loop



@pytest.fixture(autouse=True)
def _deterministic_ops():
  """Deterministic ops for this module's tests only (restored after each: the setting is
  process-wide, and other tests use unseeded random ops that determinism forbids)."""
  was_enabled = tf_config.is_op_determinism_enabled()
  tf.config.experimental.enable_op_determinism()
  yield
  if not was_enabled:
    tf_config.disable_op_determinism()


def _dataset_fn(num_images=2, batch_size=2):
  proto = testing.TinyCenterModel()
  ds = testing.synthetic_dataset(proto, num_images=num_images, batch_size=batch_size)
  return lambda ctx, seed, start: ds


def _optimizer_fn(lr=0.01):
  def fn():
    schedule = ls.ConstantSchedule(lr) if np.isscalar(lr) else ls.ManualStepSchedule(*lr)
    return keras.optimizers.Adam(schedule), schedule
  return fn


def _train(model_dir, num_steps, lr=0.01, on_line=None, **kw):
  settings = train_loop.TrainSettings(num_steps=num_steps, checkpoint_every_n=3, steps_per_loop=2,
                                      log_every_n=1, num_summary_images=1, **kw)
  lines = []
  holder = {}

  def model_fn():
    holder["model"] = testing.TinyCenterModel(seed=3)
    return holder["model"]

  def progress(line):
    lines.append(line)
    if on_line is not None:
      on_line(line)

  step = train_loop.train(model_fn, _optimizer_fn(lr), _dataset_fn(), str(model_dir), settings,
                          progress=progress)
  return step, holder["model"], lines


def _weights(model):
  return [np.array(v) for v in model.trainable_variables]


def test_resume_continues_from_step_with_identical_weights(tmp_path):
  step, full, lines = _train(tmp_path / "a", 6, use_moving_average=True,
                             moving_average_decay=0.9)
  assert step == 6 and any("steps/s" in l and "ETA" in l for l in lines)
  assert _train(tmp_path / "b", 3, use_moving_average=True, moving_average_decay=0.9)[0] == 3
  step, resumed, lines = _train(tmp_path / "b", 6, use_moving_average=True,
                                moving_average_decay=0.9)
  assert step == 6 and lines[0].startswith("resumed from") and "step 3" in lines[0]
  for a, b in zip(_weights(full), _weights(resumed)):
    np.testing.assert_array_equal(a, b)
  # keep N: ckpt-0, 3, 6 exist; summaries written
  assert checkpoints.step_of(tf.train.latest_checkpoint(tmp_path / "b")) == 6
  assert glob.glob(str(tmp_path / "b" / "train" / "events.out.tfevents.*"))
  # moving averages differ from the raw weights and are restored for eval
  ckpt_model = testing.TinyCenterModel(seed=9)
  ckpt_model(tf.zeros([1, 64, 64, 3]))
  from object_detection.training import moving_average
  avg = moving_average.MovingAverage(ckpt_model.trainable_variables, 0.9)
  checkpoints.restore_for_eval(ckpt_model, tf.train.latest_checkpoint(tmp_path / "a"), avg)
  np.testing.assert_array_equal(_weights(ckpt_model)[0], _weights(full)[0])
  with avg.swapped_weights():
    assert not np.array_equal(_weights(ckpt_model)[0], _weights(full)[0])
  np.testing.assert_array_equal(_weights(ckpt_model)[0], _weights(full)[0])


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  with pytest.raises(train_loop.TrainingDivergedError, match="last good checkpoint.*step 3"):
    _train(tmp_path, 12, lr=([3], [0.01, 1e30]))  # diverges after the step-3 checkpoint
  assert checkpoints.step_of(tf.train.latest_checkpoint(tmp_path)) == 3
  assert not os.path.exists(tmp_path / "ckpt-12.index")


def test_fine_tune_restores_feature_extractor_only(tmp_path):
  _train(tmp_path / "src", 3)
  src = tf.train.latest_checkpoint(tmp_path / "src")
  ref = testing.TinyCenterModel(seed=5)
  ref(tf.zeros([1, 64, 64, 3]))
  checkpoints.restore_for_eval(ref, src)
  target = testing.TinyCenterModel(seed=7)
  target(tf.zeros([1, 64, 64, 3]))
  head_before = np.array(target.head.kernel)
  # a training checkpoint holds `model/_feature_extractor`: restore it through a detection map
  saver = tf.train.Checkpoint(feature_extractor=ref._feature_extractor)
  path = saver.save(str(tmp_path / "fe" / "ckpt"))
  checkpoints.restore_fine_tune(target, path, "fine_tune")
  np.testing.assert_array_equal(np.array(target._feature_extractor.conv1.kernel),
                                np.array(ref._feature_extractor.conv1.kernel))
  np.testing.assert_array_equal(np.array(target.head.kernel), head_before)
  checkpoints.restore_fine_tune(target, src, "full")
  np.testing.assert_array_equal(np.array(target.head.kernel), np.array(ref.head.kernel))
  with pytest.raises(ConfigError, match="fine_tune_checkpoint_type"):
    checkpoints.restore_fine_tune(target, path, "segmentation")
  with pytest.raises(ConfigError, match="not found"):
    checkpoints.restore_fine_tune(target, str(tmp_path / "nothing"), "detection")
  with pytest.raises(ConfigError, match="V1"):
    checkpoints.restore_fine_tune(target, path, "detection", "V1")


def test_xla_and_clipping_train_the_same_way(tmp_path):
  step, model, _ = _train(tmp_path / "x", 2, xla=True, gradient_clipping_by_norm=1.0)
  _, eager, _ = _train(tmp_path / "e", 2, gradient_clipping_by_norm=1.0)
  assert step == 2
  for a, b in zip(_weights(model), _weights(eager)):
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_use_bfloat16_trains_with_float32_variables(tmp_path):
  step, model, lines = _train(tmp_path, 2, use_bfloat16=True)
  assert step == 2 and np.isfinite(float(lines[-1].split("loss ")[1].split()[0]))
  assert model.compute_dtype == "bfloat16"
  assert model._feature_extractor.conv1.compute_dtype == "bfloat16"
  assert {tf.as_dtype(v.dtype) for v in model.trainable_variables} == {tf.float32}
  # The checkpoint holds float32 weights: a float32 model restores it.
  restored = testing.TinyCenterModel(seed=9)
  restored(tf.zeros([1, 64, 64, 3]))
  checkpoints.restore_for_eval(restored, tf.train.latest_checkpoint(tmp_path))
  for a, b in zip(_weights(model), _weights(restored)):
    np.testing.assert_array_equal(a, b)


def test_ctrl_c_saves_the_current_step_and_the_resume_is_exact(tmp_path):
  _, full, _ = _train(tmp_path / "a", 6, seed=4)

  def ctrl_c_at_step_2(line):
    if line.startswith("step 2/"):
      os.kill(os.getpid(), signal.SIGINT)  # lands in the watchdog; no KeyboardInterrupt
  with pytest.raises(interrupts.TrainingInterrupted) as e:
    _train(tmp_path / "b", 6, on_line=ctrl_c_at_step_2, seed=4)
  assert 2 <= e.value.step < 6 and e.value.exit_status == 130
  assert f"stopped by SIGINT at step {e.value.step}" in str(e.value)
  assert tf.train.latest_checkpoint(tmp_path / "b").endswith(f"ckpt-{e.value.step}")
  step, resumed, lines = _train(tmp_path / "b", 6)  # seed 4 comes from the checkpoint
  assert step == 6 and lines[0].endswith(f"at step {e.value.step} (seed 4)")
  for a, b in zip(_weights(full), _weights(resumed)):
    np.testing.assert_array_equal(a, b)


def test_a_checkpoint_without_input_position_resumes_with_a_warning(tmp_path):
  step = tf.Variable(5, dtype=tf.int64)
  path = tf.train.Checkpoint(step=step).save(str(tmp_path / "ckpt"))
  restored = tf.Variable(0, dtype=tf.int64)
  lines = []
  missing = train_loop._restore(  # pylint: disable=protected-access
      {"step": restored, "input_position": tf.Variable(0, dtype=tf.int64)}, path, lines.append)
  assert missing == ["input_position"] and int(restored.numpy()) == 5
  assert "holds no input position" in lines[0] and "not exact" in lines[0]
