"""Training checkpoints (resume) and fine-tune restore.

Training checkpoint layout (object graph keys): `step` (int64 global step), `model`,
`optimizer`, `moving_average` when EMA is on, and what makes a resumed run continue exactly
(issue #15): `seed` (int64, the run's seed), `input_position` (int64, the position of the first
example of the last step's batch, data/resumable_order.py) and `rng` (Keras seed-generator
states, e.g. of Dropout layers).
`CheckpointManager` keeps the newest `max_to_keep` (7, the original's) as `<model_dir>/ckpt-<n>`;
a run resumes from the latest. An interrupted save leaves a `ckpt-<n>_temp` folder (and, if it
died after the files but before the `checkpoint` state file, `ckpt-<n>.*` files newer than the
recorded latest): `remove_interrupted_saves` deletes them when training starts.

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
import re
import secrets

import tensorflow as tf

from object_detection.core.errors import ConfigError

FINE_TUNE_TYPES = ("detection", "classification", "full", "fine_tune")
PREFIX = "ckpt"
SEED_KEY = "seed/.ATTRIBUTES/VARIABLE_VALUE"

log = logging.getLogger(__name__)


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


def make_checkpoint(step, model, optimizer=None, moving_average=None, seed=None,
                    input_position=None, rng=None):
  """tf.train.Checkpoint with the training layout (see the module docstring).

  Args:
    step: int64 tf.Variable, the global step.
    model, optimizer, moving_average: trackables (None: left out).
    seed: optional int64 tf.Variable holding the run's seed.
    input_position: optional int64 tf.Variable, the input position to resume at.
    rng: optional list of Keras seed-generator state variables.
  """
  kwargs = {"step": step, "model": model, "optimizer": optimizer,
            "moving_average": moving_average, "seed": seed, "input_position": input_position,
            "rng": rng or None}
  return tf.train.Checkpoint(**{k: v for k, v in kwargs.items() if v is not None})


def saved_keys(checkpoint_path):
  """Top-level object names saved in a checkpoint ({"step", "model", "data", ...})."""
  return {name.split("/", 1)[0] for name, _ in tf.train.list_variables(checkpoint_path)
          if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


def input_position(checkpoint_path):
  """The input position saved in a training checkpoint (0 when it holds none: a checkpoint of
  an older version, or of a run whose input has no positions)."""
  reader = tf.train.load_checkpoint(checkpoint_path)
  key = "input_position/.ATTRIBUTES/VARIABLE_VALUE"
  return int(reader.get_tensor(key)) if reader.has_tensor(key) else 0


def resolve_seed(model_dir, requested=None):
  """The run's seed: the one saved in model_dir's latest checkpoint when resuming, else
  `requested`, else a fresh random one.

  Raises:
    ConfigError: `requested` differs from the seed the run in model_dir was started with (the
      resumed run could not continue exactly).
  """
  path = latest_training(model_dir)
  if path is not None:
    reader = tf.train.load_checkpoint(path)
    if reader.has_tensor(SEED_KEY):
      saved = int(reader.get_tensor(SEED_KEY))
      if requested is not None and int(requested) != saved:
        raise ConfigError(
            f"--seed: {model_dir} holds a run started with seed {saved} (got {requested}; "
            f"expected {saved} to resume it, or a new --model_dir for a new seed)")
      return saved
  if requested is not None:
    return int(requested)
  return secrets.randbelow(2 ** 31 - 1)


def _recorded_latest_step(directory):
  state = tf.train.get_checkpoint_state(directory)
  if state is None or not state.model_checkpoint_path:
    return None
  match = re.search(rf"{PREFIX}-(\d+)$", state.model_checkpoint_path)
  return int(match.group(1)) if match else None


def remove_interrupted_saves(directory):
  """Deletes what interrupted saves left in a training directory; returns the removed paths.

  - `ckpt-<n>_temp` folders (a save killed while writing its shards; never valid);
  - `checkpoint.tmp*` (the state file's temporary copy);
  - when a `checkpoint` state file exists: `ckpt-<n>.index` / `.data-*` files with n above the
    recorded latest checkpoint (the save finished its files but not the state file, so the
    resumed run will write step n again). Without a state file nothing else is touched.
  """
  if not tf.io.gfile.isdir(directory):
    return []
  removed = []
  for path in (tf.io.gfile.glob(os.path.join(directory, f"{PREFIX}-*_temp"))
               + tf.io.gfile.glob(os.path.join(directory, "checkpoint.tmp*"))):
    if tf.io.gfile.isdir(path):
      tf.io.gfile.rmtree(path)
    else:
      tf.io.gfile.remove(path)
    removed.append(path)
  latest_step = _recorded_latest_step(directory)
  if latest_step is not None:
    for path in tf.io.gfile.glob(os.path.join(directory, f"{PREFIX}-*")):
      match = re.match(rf"{PREFIX}-(\d+)\.(index|data-\d+-of-\d+)$", os.path.basename(path))
      if match and int(match.group(1)) > latest_step:
        tf.io.gfile.remove(path)
        removed.append(path)
  for path in removed:
    log.warning("removed %s (left by an interrupted checkpoint save)", path)
  return removed


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
  return tf.train.latest_checkpoint(checkpoint_dir(model_dir)) if tf.io.gfile.isdir(model_dir) \
      else None


def latest_training(model_dir):
  """Newest checkpoint of the training run in model_dir (not a zoo checkpoint/ beside it) or
  None."""
  return tf.train.latest_checkpoint(model_dir) if tf.io.gfile.isdir(model_dir) else None
