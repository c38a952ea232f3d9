"""Leftovers of interrupted saves are removed; the run's seed is kept with the checkpoints."""

import os

import pytest
import tensorflow as tf

from object_detection.core.errors import ConfigError
from object_detection.training import checkpoints


def _save(directory, steps, seed=None):
  step = tf.Variable(0, dtype=tf.int64)
  objects = {"step": step}
  if seed is not None:
    objects["seed"] = tf.Variable(seed, dtype=tf.int64)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(**objects), str(directory),
                                       max_to_keep=10, checkpoint_name=checkpoints.PREFIX)
  for n in steps:
    step.assign(n)
    manager.save(checkpoint_number=n)


def _touch(path):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    f.write("x")


def test_interrupted_saves_are_removed_and_good_checkpoints_kept(tmp_path):
  _save(tmp_path, [0, 2, 4])
  _touch(tmp_path / "ckpt-6_temp" / "part-00000-of-00001.data-00000-of-00001")  # killed mid-write
  _touch(tmp_path / "ckpt-6.index")  # files done, state file not updated
  _touch(tmp_path / "ckpt-6.data-00000-of-00001")
  _touch(tmp_path / "checkpoint.tmp3f2a")
  _touch(tmp_path / "ckpt-10_temp" / "part-0")
  removed = checkpoints.remove_interrupted_saves(str(tmp_path))
  assert sorted(os.path.basename(p) for p in removed) == [
      "checkpoint.tmp3f2a", "ckpt-10_temp", "ckpt-6.data-00000-of-00001", "ckpt-6.index",
      "ckpt-6_temp"]
  assert sorted(os.listdir(tmp_path)) == [
      "checkpoint", "ckpt-0.data-00000-of-00001", "ckpt-0.index", "ckpt-2.data-00000-of-00001",
      "ckpt-2.index", "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
  assert checkpoints.step_of(tf.train.latest_checkpoint(str(tmp_path))) == 4


def test_without_a_state_file_only_temp_folders_go(tmp_path):
  # e.g. checkpoints copied into a new folder by hand: never delete them
  _touch(tmp_path / "ckpt-3.index")
  _touch(tmp_path / "ckpt-3_temp" / "part-0")
  assert [os.path.basename(p) for p in checkpoints.remove_interrupted_saves(str(tmp_path))] == [
      "ckpt-3_temp"]
  assert os.listdir(tmp_path) == ["ckpt-3.index"]
  assert checkpoints.remove_interrupted_saves(str(tmp_path / "missing")) == []


def test_seed_comes_from_the_run_being_resumed(tmp_path):
  assert checkpoints.resolve_seed(str(tmp_path / "new"), 5) == 5
  fresh = {checkpoints.resolve_seed(str(tmp_path / "new")) for _ in range(3)}
  assert all(0 <= s < 2 ** 31 for s in fresh) and len(fresh) > 1
  _save(tmp_path / "run", [0], seed=42)
  assert checkpoints.resolve_seed(str(tmp_path / "run")) == 42
  assert checkpoints.resolve_seed(str(tmp_path / "run"), 42) == 42
  with pytest.raises(ConfigError, match=r"--seed: .* started with seed 42 \(got 7; expected 42"):
    checkpoints.resolve_seed(str(tmp_path / "run"), 7)
  _save(tmp_path / "old", [0])  # a checkpoint of an older version: no seed saved
  assert checkpoints.resolve_seed(str(tmp_path / "old"), 3) == 3


def test_layout_keys_and_input_position(tmp_path):
  step = tf.Variable(3, dtype=tf.int64)
  path = checkpoints.make_checkpoint(
      step, tf.Module(), seed=tf.Variable(1, dtype=tf.int64),
      input_position=tf.Variable(5 << 32 | 17, dtype=tf.int64)).write(str(tmp_path / "c"))
  assert checkpoints.saved_keys(path) == {"step", "seed", "input_position"}
  assert checkpoints.input_position(path) == 5 << 32 | 17
  older = checkpoints.make_checkpoint(step, tf.Module()).write(str(tmp_path / "old"))
  assert checkpoints.input_position(older) == 0
