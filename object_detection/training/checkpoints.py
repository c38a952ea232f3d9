"""Training checkpoints (resume) and fine-tune restore.

Training checkpoint layout (object graph keys): `step` (int64 global step), `model`,
`optimizer`, and `moving_average` when EMA is on. `CheckpointManager` keeps the newest
`max_to_keep` (7, the original's) as `<model_dir>/ckpt-<n>`; a run resumes from the latest.

Fine-tune restore (train_config.fine_tune_checkpoint[_type]): the model says what to restore
through `model.restore_map(kind)` -> {name: trackable}; "fine_tune" is an alias of "detection".
Every object in that map must find its values in the checkpoint
(`assert_existing_objects_matched`, as the original), otherwise a clear error is raised.

Checkpoints written by the original Object Detection API (Keras 2 object graphs: the model zoo's
`NAME/checkpoint/ckpt-0`, or an original training directory) are recognised and restored through
the name maps of `object_detection.conversion` (no converted copy needed), for fine-tuning
(every checkpoint type), evaluation and export.
"""

import logging
import os

import tensorflow as tf

from object_detection.core.errors import ConfigError

FINE_TUNE_TYPES = ("detection", "classification", "full", "fine_tune")


def checkpoint_dir(path):
  """`path`, or its `checkpoint/` subdirectory for a model-zoo directory (NAME/checkpoint/)."""
  inner = os.path.join(path, "checkpoint")
  return inner if tf.io.gfile.isdir(inner) else path


def checkpoint_prefix(path, field_path="train_config.fine_tune_checkpoint"):
  """A checkpoint prefix from a prefix, a directory (its latest checkpoint) or a zoo model
  directory (the latest checkpoint of its checkpoint/ subdirectory)."""
  if tf.io.gfile.isdir(path):
    path = checkpoint_dir(path)
    latest = tf.train.latest_checkpoint(path)
    if latest is None:
      raise ConfigError(f"{field_path}: no checkpoint in directory (got {path!r})")
    return latest
  if not tf.io.gfile.exists(path + ".index"):
    raise ConfigError(
        f"{field_path}: checkpoint not found (got {path!r}; expected a prefix with an .index "
        "file, e.g. .../ckpt-0, or a directory holding checkpoints)")
  return path


def restore_fine_tune(model, path, checkpoint_type="detection", checkpoint_version="V2"):
  """Restores part of an already-built `model` from a checkpoint written elsewhere.

  Args:
    model: DetectionModel whose variables exist (run a forward pass first).
    path: checkpoint prefix or directory.
    checkpoint_type: detection | classification | full | fine_tune (alias of detection).
    checkpoint_version: "V2" (object-based); "V1" (name-based) is rejected as in the original.
  Returns:
    the restore status (already checked).
  """
  where = "train_config.fine_tune_checkpoint_type"
  if str(checkpoint_version).upper() in ("V1", "1"):
    raise ConfigError(
        "train_config.fine_tune_checkpoint_version: V1 (name-based) checkpoints are not "
        "supported in TF2 (got V1; expected V2)")
  if checkpoint_type not in FINE_TUNE_TYPES:
    raise ConfigError(f"{where}: unknown type (got {checkpoint_type!r}; expected one of: "
                      f"{', '.join(FINE_TUNE_TYPES)})")
  kind = "detection" if checkpoint_type == "fine_tune" else checkpoint_type
  try:
    objects = model.restore_map(kind)
  except NotImplementedError as e:
    raise ConfigError(f"{where}: {e}") from e
  prefix = checkpoint_prefix(path)
  from object_detection.conversion import restore as conversion  # pylint: disable=import-outside-toplevel
  if conversion.is_original(prefix, objects):
    plan = conversion.restore_original(
        model, prefix, kind, objects=objects,
        where=f"train_config.fine_tune_checkpoint {prefix!r} (type {checkpoint_type!r})")
    logging.info("fine-tune checkpoint of the original Object Detection API: %s", plan.summary())
    return plan
  status = tf.train.Checkpoint(**objects).restore(prefix)
  try:
    status.expect_partial()
    status.assert_existing_objects_matched()
  except AssertionError as e:
    raise ConfigError(
        f"train_config.fine_tune_checkpoint: {prefix!r} does not hold the "
        f"{kind!r} objects of this model ({str(e).splitlines()[0]})") from e
  return status


def make_checkpoint(step, model, optimizer=None, moving_average=None):
  """tf.train.Checkpoint with the training layout (see the module docstring)."""
  kwargs = {"step": step, "model": model}
  if optimizer is not None:
    kwargs["optimizer"] = optimizer
  if moving_average is not None:
    kwargs["moving_average"] = moving_average
  return tf.train.Checkpoint(**kwargs)


def write_copy(prefix, step, model, moving_average=None):
  """Writes `model` (+ EMA shadows) and `step` at `prefix` (`<prefix>.index`, `.data-*`; no
  numbering, no `checkpoint` state file), restorable by `restore_for_eval` like a checkpoint of
  the train loop: the save counter is written too, as `Checkpoint.save` does."""
  ckpt = make_checkpoint(tf.Variable(step, dtype=tf.int64), model, moving_average=moving_average)
  _ = ckpt.save_counter  # the property creates it: `write` alone would leave it out
  return ckpt.write(prefix)


def step_of(checkpoint_path):
  """Global step saved in a training checkpoint (reads only the variable); 0 for checkpoints
  without one (the original's exported / model-zoo checkpoints)."""
  reader = tf.train.load_checkpoint(checkpoint_path)
  if not reader.has_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"):
    return 0
  return int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


def restore_for_eval(model, checkpoint_path, moving_average=None):
  """Restores model weights (and EMA shadows when given) from a training checkpoint; an original
  checkpoint is converted on the fly (its raw weights: EMA shadows are not read from it)."""
  from object_detection.conversion import restore as conversion  # pylint: disable=import-outside-toplevel
  if conversion.is_original(checkpoint_path, {"model": model}):
    plan = conversion.restore_original(model, checkpoint_path, "full",
                                       where=f"checkpoint {checkpoint_path!r}")
    logging.info("checkpoint of the original Object Detection API: %s", plan.summary())
    return plan
  ckpt = make_checkpoint(tf.Variable(0, dtype=tf.int64), model, moving_average=moving_average)
  status = ckpt.restore(checkpoint_path)
  status.expect_partial()
  status.assert_existing_objects_matched()
  return ckpt


def latest(model_dir):
  """Newest checkpoint prefix in model_dir (or its zoo-layout checkpoint/) or None."""
  return tf.train.latest_checkpoint(checkpoint_dir(model_dir)) if os.path.isdir(model_dir) \
      else None
