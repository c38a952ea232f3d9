"""The training loop (the original's model_lib_v2.train_loop), independent of protos.

    model, optimizer built in the strategy scope -> variables created by one forward pass ->
    fine-tune restore (first run only) -> resume from the latest checkpoint in model_dir ->
    tf.function running up to `steps_per_loop` steps per call -> after each call: NaN/Inf guard,
    progress line, summaries, checkpoint every `checkpoint_every_n` steps (and at step 0).

Exact resume (issue #15): a checkpoint also holds the run's seed, the input position (the
position of the first example of the last step's batch: data/resumable_order.py numbers every
record, and the examples carry their position) and the Keras seed-generator states, and the
model's random ops draw stateless seeds keyed by (seed, step, replica) (core/randomness.py), so a
run killed at any point and restarted ends bit-identical to an uninterrupted one (on CPU, one
input pipeline; with several workers a resumed run reads a fresh order). One input pipeline: its
first batch builds the variables and is not trained on. A resumed run rebuilds the pipeline at
the saved position, so that first batch is the last step's batch again and training goes on
with the next one, as in the uninterrupted run.
Ctrl-C / SIGTERM (training/interrupts.py): the current step finishes, a checkpoint of it is saved
and `TrainingInterrupted` is raised; a second Ctrl-C quits at once. Folders left by interrupted
saves are removed at start (checkpoints.remove_interrupted_saves).

`builders/train_builder.train_settings` maps a TrainConfig message to `TrainSettings`.
"""

import dataclasses
import logging
import os
import shutil
import signal
import time

import keras
import numpy as np
import tensorflow as tf

from object_detection.core import precision
from object_detection.core.errors import ConfigError
from object_detection.data import record_guard
from object_detection.data import resumable_order
from object_detection.training import checkpoints
from object_detection.training import distribution
from object_detection.training import interrupts
from object_detection.training import moving_average as ema_lib
from object_detection.training import summaries
from object_detection.training import train_step

log = logging.getLogger(__name__)


class TrainingDivergedError(RuntimeError):
  """The loss became NaN or Inf; the last good checkpoint was kept."""


@dataclasses.dataclass(frozen=True)
class TrainSettings:
  """Plain training settings (the TrainConfig fields the loop uses, plus flags).

  num_steps: stop at this global step (0: forever). checkpoint_every_n: save period (steps).
  steps_per_loop: steps per tf.function call (the original's 100). summary_every_n: scalar
  summaries period. num_summary_images: images with predictions written at each checkpoint.
  """
  num_steps: int = 0
  checkpoint_every_n: int = 1000
  max_to_keep: int = 7
  steps_per_loop: int = 100
  gradient_clipping_by_norm: float = 0.0
  add_regularization_loss: bool = True
  use_moving_average: bool = False
  moving_average_decay: float = 0.9999
  record_summaries: bool = True
  summary_every_n: int = 100
  num_summary_images: int = 3
  xla: bool = False
  fine_tune_checkpoint: str = ""
  fine_tune_checkpoint_type: str = "detection"
  fine_tune_checkpoint_version: str = "V2"
  log_every_n: int = 100
  use_bfloat16: bool = False
  seed: int = None

  def __post_init__(self):
    for name in ("checkpoint_every_n", "max_to_keep", "steps_per_loop", "summary_every_n",
                 "log_every_n"):
      if getattr(self, name) <= 0:
        raise ConfigError(f"--{name}: must be positive (got {getattr(self, name)}; expected >= 1)")


def _build_variables(model, optimizer):
  """The model's variables (one small eager forward pass: DetectionModel.build_variables) and the
  optimizer's slots."""
  model.build_variables()
  optimizer.build(model.trainable_variables)


def _first_local_batch(iterator, strategy):
  """The next (features, labels) of a distributed iterator, as this worker's first replica's
  tensors (used to build the variables and for the summary pictures)."""
  try:
    batch = next(iterator)
  except tf.errors.OpError as e:
    record_guard.raise_pending(e)  # a bad-input DataError stopped the pipeline: raise that
    raise
  return tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], batch)


def _skipped_note():
  """`, skipped N bad input records (see the log)` when the input pipeline skipped any."""
  totals = record_guard.totals()
  parts = [f"{totals['skipped_records']} bad input records"] if totals["skipped_records"] else []
  if totals["unreadable_files"]:
    parts.append(f"{totals['unreadable_files']} unreadable input files")
  return f", skipped {' and '.join(parts)} (see the log)" if parts else ""


def _format_eta(seconds):
  seconds = int(max(seconds, 0))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _make_iterator(strategy, dataset_fn, seed, start, contexts):
  """Iterator over `dataset_fn(ctx, seed, start)` distributed by `strategy`; the input contexts
  it was built with are appended to `contexts`."""
  def fn(ctx):
    contexts.append(ctx)
    return dataset_fn(ctx, seed, start)
  return iter(strategy.distribute_datasets_from_function(fn))


def _pop_position(features, strategy):
  """(features without the input position, [] int64 smallest position of the step or None)."""
  if not isinstance(features, dict) or resumable_order.POSITION_KEY not in features:
    return features, None
  features = dict(features)
  values = strategy.experimental_local_results(features.pop(resumable_order.POSITION_KEY))
  return features, tf.reduce_min(tf.concat([tf.reshape(v, [-1]) for v in values], 0))


def _restore(ckpt_objects, path, progress):
  """Restores the training checkpoint `path` into the objects it holds; returns the keys that
  this run tracks but the checkpoint lacks (e.g. `input_position` from an older version)."""
  saved = checkpoints.saved_keys(path)
  present = {k: v for k, v in ckpt_objects.items() if k in saved}
  tf.train.Checkpoint(**present).restore(path).assert_existing_objects_matched()
  missing = sorted(set(ckpt_objects) - saved)
  if "input_position" in missing:
    progress(f"warning: {path} holds no input position (written by an older version): the "
             "input pipeline starts again, so this resumed run is not exact")
  return missing


def train(model_fn, optimizer_fn, dataset_fn, model_dir, settings, strategy=None,
          progress=print):
  """Trains until `settings.num_steps`; returns the final global step (int).

  Args:
    model_fn: () -> DetectionModel (called inside the strategy scope).
    optimizer_fn: () -> (keras optimizer, learning-rate schedule) (inside the scope).
    dataset_fn: (tf.distribute.InputContext, seed, start) -> tf.data.Dataset of (features,
      labels) batched per replica (fields.py layout, images already preprocessed). `seed` (int)
      fixes the order and the augmentations; `start` (int) is the input position to start at
      (0, or the one saved with the checkpoint being resumed). Features may hold each example's
      position under resumable_order.POSITION_KEY (dataset_builder does with a seed): then the
      position is saved with each checkpoint and a resume is exact.
    model_dir: checkpoints and summaries (`<model_dir>/train`) go here.
    settings: TrainSettings.
    strategy: tf.distribute.Strategy (default strategy when None).
    progress: callable(str) for the progress line (print by default).
  Raises:
    TrainingDivergedError: the loss became NaN/Inf (the last checkpoint is the last good one).
    interrupts.TrainingInterrupted: SIGINT/SIGTERM; a checkpoint of the current step was saved.
  """
  strategy = strategy or tf.distribute.get_strategy()
  num_replicas = strategy.num_replicas_in_sync
  chief = distribution.is_chief(strategy)
  out_dir = distribution.worker_dir(model_dir, strategy)
  os.makedirs(out_dir, exist_ok=True)
  stop_flag = tf.Variable(False, trainable=False, name="stop_requested")
  with interrupts.StopRequest(on_request=lambda: stop_flag.assign(True)) as stop:
    return _train(model_fn, optimizer_fn, dataset_fn, model_dir, out_dir, settings, strategy,
                  progress, num_replicas, chief, stop, stop_flag)


def _train(model_fn, optimizer_fn, dataset_fn, model_dir, out_dir, settings, strategy, progress,
           num_replicas, chief, stop, stop_flag):
  if chief:
    checkpoints.remove_interrupted_saves(out_dir)
  # Every worker resumes from the chief's checkpoints (the others write to temporary folders).
  seed = checkpoints.resolve_seed(model_dir, settings.seed)
  latest = checkpoints.latest_training(model_dir)
  keras.utils.set_random_seed(seed)  # initial weights, Keras seed generators

  start = checkpoints.input_position(latest) if latest else 0
  # One input pipeline: its first batch gives the summary pictures (and is not trained on).
  contexts = []
  iterator = _make_iterator(strategy, dataset_fn, seed, start, contexts)
  with strategy.scope():
    model = model_fn()
    optimizer, schedule = optimizer_fn()
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                              aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    sample_local = _first_local_batch(iterator, strategy)
    sample_local = (_pop_position(sample_local[0], tf.distribute.get_strategy())[0],
                    *sample_local[1:])
    # Cross-replica context: Keras creates mirrored variables here.
    _build_variables(model, optimizer)
    precision.apply(model, precision.policy_for(settings.use_bfloat16))
    average = (ema_lib.MovingAverage(model.trainable_variables, settings.moving_average_decay)
               if settings.use_moving_average else None)
  num_pipelines = max((c.num_input_pipelines for c in contexts), default=1)
  track_position = num_pipelines == 1
  if not track_position and latest:
    # Each worker reads its own share; the chief's checkpoint cannot hold every worker's
    # position: a resumed run at least reads a fresh order (seeded by the step) instead of
    # replaying the first examples.
    resumed_at = checkpoints.step_of(latest)
    progress(f"warning: the input position of {num_pipelines} input pipelines is not saved: "
             f"resuming at step {resumed_at} with a new input order (not an exact resume)")
    iterator = _make_iterator(strategy, dataset_fn, (seed * 1000003 + resumed_at) % (2 ** 31 - 1),
                              0, [])
  seed_var = tf.Variable(seed, dtype=tf.int64, trainable=False, name="seed")
  position_var = tf.Variable(start, dtype=tf.int64, trainable=False, name="input_position")
  rng_states = [v for v in model.variables if v.name == "seed_generator_state"]
  objects = {"step": global_step, "model": model, "optimizer": optimizer,
             "moving_average": average, "seed": seed_var,
             "input_position": position_var if track_position else None,
             "rng": rng_states or None}
  objects = {k: v for k, v in objects.items() if v is not None}
  ckpt = tf.train.Checkpoint(**objects)  # checkpoints.make_checkpoint's layout
  manager = tf.train.CheckpointManager(ckpt, out_dir, max_to_keep=settings.max_to_keep,
                                       checkpoint_name=checkpoints.PREFIX)

  if latest:
    _restore(objects, latest, progress)
    progress(f"resumed from {latest} at step {int(global_step.numpy())} (seed {seed})")
  else:
    if settings.fine_tune_checkpoint:
      checkpoints.restore_fine_tune(model, settings.fine_tune_checkpoint,
                                    settings.fine_tune_checkpoint_type,
                                    settings.fine_tune_checkpoint_version)
      if average is not None:  # start the averages from the restored weights
        for avg, var in zip(average.averages, model.trainable_variables):
          avg.assign(var)
      progress(f"fine-tuning from {settings.fine_tune_checkpoint} "
               f"({settings.fine_tune_checkpoint_type})")
    progress(f"training from step 0 with seed {seed}")

  replica_step = train_step.make_replica_step(
      model, optimizer, global_step, num_replicas, settings.gradient_clipping_by_norm,
      settings.add_regularization_loss, average, jit_compile=settings.xla, seed=seed)

  def one_step(iterator):
    features, labels = next(iterator)
    features, position = _pop_position(features, strategy)
    if position is not None and track_position:
      position_var.assign(position)  # the first example of this step
    per_replica = strategy.run(replica_step, args=(features, labels))
    return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()}

  loss_names = []  # order of the packed losses, known once run_steps is traced

  @tf.function
  def run_steps(iterator, num):
    # Every step runs in the loop body (one graph copy): a step outside the loop would be
    # optimized separately and round differently, so a run resumed at another step of a call
    # would not be bit-identical. The losses of the last step come out packed in one vector.
    packed = tf.zeros([0], tf.float32)
    for _ in tf.range(num):
      tf.autograph.experimental.set_loop_options(
          shape_invariants=[(packed, tf.TensorShape([None]))])
      if stop_flag:  # Ctrl-C / SIGTERM: end the call after the current step
        break
      losses = one_step(iterator)
      loss_names[:] = sorted(losses)
      packed = tf.stack([tf.cast(losses[k], tf.float32) for k in loss_names])
    return packed

  writer = (tf.summary.create_file_writer(os.path.join(out_dir, "train"))
            if settings.record_summaries and chief else tf.summary.create_noop_writer())
  step = int(global_step.numpy())
  if step == 0 and not latest:
    manager.save(checkpoint_number=0)
  last_saved = step
  start_step, start_time = step, time.time()
  last_log_step, last_log_time = step, start_time
  last_summary = step // max(settings.summary_every_n, 1)
  input_health = None  # bad-input totals last written to the summaries
  while (settings.num_steps <= 0 or step < settings.num_steps) and not stop.requested:
    next_ckpt = (step // settings.checkpoint_every_n + 1) * settings.checkpoint_every_n
    n = min(settings.steps_per_loop, settings.log_every_n, next_ckpt - step)
    if settings.num_steps > 0:
      n = min(n, settings.num_steps - step)
    try:
      packed = run_steps(iterator, tf.constant(n, tf.int64)).numpy()
    except tf.errors.OpError as e:
      record_guard.raise_pending(e)
      raise
    if not packed.size:  # stopped before the first step of the call
      break
    losses = dict(zip(loss_names, packed.tolist()))
    step = int(global_step.numpy())
    total = losses[train_step.TOTAL]
    if not np.isfinite(total):
      raise TrainingDivergedError(
          f"train: the loss became {total} at or before step {step} (losses: "
          f"{losses}); stopped without saving, the last "
          f"good checkpoint is {manager.latest_checkpoint} (step {last_saved}). Lower the "
          "learning rate or set gradient_clipping_by_norm.")
    now = time.time()
    if step - last_log_step >= settings.log_every_n or step == settings.num_steps:
      rate = (step - last_log_step) / max(now - last_log_time, 1e-9)
      eta = (f" ETA {_format_eta((settings.num_steps - step) / max(rate, 1e-9))}"
             if settings.num_steps > 0 else "")
      progress(f"step {step}{'/' + str(settings.num_steps) if settings.num_steps else ''} "
               f"loss {total:.4f} lr {float(schedule(optimizer.iterations)):.3g} "
               f"{rate:.2f} steps/s{eta}{_skipped_note()}")
      last_log_step, last_log_time = step, now
    if step // max(settings.summary_every_n, 1) != last_summary or step == settings.num_steps:
      last_summary = step // max(settings.summary_every_n, 1)
      with writer.as_default():
        summaries.write_scalars(losses, float(schedule(optimizer.iterations)),
                                (step - start_step) / max(now - start_time, 1e-9), step)
        input_health = summaries.write_input_health(step, input_health)
    if step % settings.checkpoint_every_n == 0 or step == settings.num_steps:
      manager.save(checkpoint_number=step)
      last_saved = step
      if settings.num_summary_images and chief and settings.record_summaries:
        with writer.as_default():
          summaries.write_prediction_images(model, sample_local[0], step,
                                            settings.num_summary_images)
  writer.flush()
  if stop.requested:
    if step != last_saved:
      manager.save(checkpoint_number=step)
    name = signal.Signals(stop.signal_number).name
    raise interrupts.TrainingInterrupted(
        f"train: stopped by {name} at step {step}; checkpoint {manager.latest_checkpoint} "
        "holds this step. Run the same command to resume.", step, manager.latest_checkpoint,
        stop.signal_number)
  if not chief:
    shutil.rmtree(out_dir, ignore_errors=True)
  return step
