"""eval/best_checkpoint.py: the best checkpoint by a metric is kept in <model_dir>/best over a
fake metric sequence (higher- and lower-is-better), survives a restart and a crash between its
writes, and is a checkpoint folder that eval/export read like any other."""

import json
import os

import pytest
import tensorflow as tf

from object_detection.core.errors import ConfigError
from object_detection.eval import best_checkpoint
from object_detection.training import checkpoints


def _writer(step, weight):
  """write_checkpoint callable: the training layout (step, model) with one weight."""
  model = tf.Module()
  model.w = tf.Variable(float(weight))
  ckpt = checkpoints.make_checkpoint(tf.Variable(step, dtype=tf.int64), model)
  return lambda prefix: ckpt.write(prefix)


def _feed(keeper, sequence, metric):
  kept = []
  for step, value in sequence:
    if keeper.update(step, {metric: value, "other": 0.0}, _writer(step, value)):
      kept.append(step)
  return kept


def _files(directory):
  return sorted(os.listdir(directory))


def _weight(prefix):
  return float(tf.train.load_checkpoint(prefix).get_tensor("model/w/.ATTRIBUTES/VARIABLE_VALUE"))


def test_higher_is_better_sequence(tmp_path):
  best = tmp_path / "best"
  keeper = best_checkpoint.BestCheckpointKeeper(best, "DetectionMasks_Precision/mAP")
  assert keeper.mode == "max" and keeper.best is None
  kept = _feed(keeper, [(100, 0.10), (200, 0.30), (300, 0.20), (400, float("nan")),
                        (500, 0.30), (600, 0.35)], "DetectionMasks_Precision/mAP")
  assert kept == [100, 200, 600]  # ties and NaN do not replace the kept one
  record = json.loads((best / "best.json").read_text())
  assert record == {"metric": "DetectionMasks_Precision/mAP", "mode": "max", "value": 0.35,
                    "step": 600, "checkpoint": "ckpt-600"}
  assert _files(best) == ["best.json", "checkpoint", "ckpt-600.data-00000-of-00001",
                          "ckpt-600.index"]
  # A checkpoint folder like any other: what exporter_main_v2 / eval resolve.
  prefix = checkpoints.checkpoint_prefix(str(best), "--trained_checkpoint_dir")
  assert prefix == str(best / "ckpt-600")
  assert checkpoints.step_of(prefix) == 600 and _weight(prefix) == pytest.approx(0.35)


def test_lower_is_better_for_losses_and_explicit_modes(tmp_path):
  keeper = best_checkpoint.BestCheckpointKeeper(tmp_path / "a", "Loss/total_loss")
  assert keeper.mode == "min"
  assert _feed(keeper, [(1, 5.0), (2, 3.0), (3, 4.0), (4, 2.5)], "Loss/total_loss") == [1, 2, 4]
  keeper = best_checkpoint.BestCheckpointKeeper(tmp_path / "b", "DetectionBoxes_Recall/AR@100",
                                                mode="min")
  assert _feed(keeper, [(1, 0.5), (2, 0.6), (3, 0.4)], "DetectionBoxes_Recall/AR@100") == [1, 3]
  with pytest.raises(ConfigError, match="--keep_best_mode: unknown mode"):
    best_checkpoint.BestCheckpointKeeper(tmp_path / "c", "x", mode="biggest")


def test_restart_keeps_the_best_so_far(tmp_path):
  metric = "DetectionBoxes_Precision/mAP"
  _feed(best_checkpoint.BestCheckpointKeeper(tmp_path, metric), [(1, 0.4), (2, 0.2)], metric)
  keeper = best_checkpoint.BestCheckpointKeeper(tmp_path, metric)  # a new eval job
  assert keeper.best["step"] == 1
  assert _feed(keeper, [(3, 0.3), (4, 0.5)], metric) == [4]


def test_same_step_reevaluated_better_does_not_overwrite_in_place(tmp_path):
  keeper = best_checkpoint.BestCheckpointKeeper(tmp_path, "m")
  assert _feed(keeper, [(7, 0.1), (7, 0.2)], "m") == [7, 7]
  assert keeper.best["checkpoint"] == "ckpt-7_1"
  assert _weight(checkpoints.checkpoint_prefix(str(tmp_path))) == pytest.approx(0.2)
  assert "ckpt-7.index" not in _files(tmp_path)


def test_crash_between_writes_is_repaired(tmp_path):
  keeper = best_checkpoint.BestCheckpointKeeper(tmp_path, "m")
  _feed(keeper, [(1, 0.1)], "m")
  # Crash after the new checkpoint and best.json, before the state file and the clean-up.
  _writer(2, 0.9)(str(tmp_path / "ckpt-2"))
  (tmp_path / "best.json").write_text(json.dumps(
      {"metric": "m", "mode": "max", "value": 0.9, "step": 2, "checkpoint": "ckpt-2"}))
  # ... and a stray write of a third one that never got its best.json.
  _writer(3, 0.5)(str(tmp_path / "ckpt-3"))
  best_checkpoint.BestCheckpointKeeper(tmp_path, "m")
  assert checkpoints.checkpoint_prefix(str(tmp_path)) == str(tmp_path / "ckpt-2")
  assert _files(tmp_path) == ["best.json", "checkpoint", "ckpt-2.data-00000-of-00001",
                              "ckpt-2.index"]


def test_unknown_metric_lists_the_known_ones(tmp_path):
  keeper = best_checkpoint.BestCheckpointKeeper(tmp_path, "DetectionMasks_mAP")
  with pytest.raises(ConfigError, match=r"--keep_best_metric: no such metric .*'DetectionMasks_"
                     r"mAP'; expected one of: DetectionMasks_Precision/mAP, Loss/total_loss"):
    keeper.update(1, {"Loss/total_loss": 1.0, "DetectionMasks_Precision/mAP": 0.1},
                  _writer(1, 0.0))
  assert not os.path.exists(tmp_path / "best.json")


def test_kept_copy_restores_like_a_training_checkpoint(tmp_path):
  """The copy model_lib keeps (checkpoints.write_copy) passes restore_for_eval's
  assert_existing_objects_matched (a bare Checkpoint.write leaves out the save counter, which
  the export of MODEL_DIR/best then refused)."""
  source = tf.Module()
  source.w = tf.Variable(3.0)
  checkpoints.write_copy(str(tmp_path / "ckpt-7"), 7, source)
  assert checkpoints.step_of(str(tmp_path / "ckpt-7")) == 7
  target = tf.Module()
  target.w = tf.Variable(0.0)
  checkpoints.restore_for_eval(target, str(tmp_path / "ckpt-7"))
  assert float(target.w) == 3.0
  bare = tf.Module()
  bare.w = tf.Variable(1.0)
  checkpoints.make_checkpoint(tf.Variable(7, dtype=tf.int64), bare).write(str(tmp_path / "bare"))
  with pytest.raises(AssertionError, match="save_counter"):
    checkpoints.restore_for_eval(target, str(tmp_path / "bare"))
