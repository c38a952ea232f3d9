"""The training loop (the original's model_lib_v2.train_loop), independent of protos.

    model, optimizer built in the strategy scope -> variables created by one forward pass ->
    fine-tune restore (first run only) -> resume from the latest checkpoint in model_dir ->
    tf.function running up to `steps_per_loop` steps per call -> after each call: NaN/Inf guard,
    progress line, summaries, checkpoint every `checkpoint_every_n` steps (and at step 0).

`model_lib.train_settings` maps a TrainConfig message to `TrainSettings`.
"""

import dataclasses
import logging
import os
import shutil
import time

import numpy as np
import tensorflow as tf

from object_detection.core import fields
from object_detection.core import precision
from object_detection.core.errors import ConfigError
from object_detection.training import checkpoints
from object_detection.training import distribution
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

  def __post_init__(self):
    for name in ("checkpoint_every_n", "max_to_keep", "steps_per_loop", "summary_every_n",
                 "log_every_n"):
      if getattr(self, name) <= 0:
        raise ConfigError(f"--{name}: must be positive (got {getattr(self, name)}; expected >= 1)")


def _build_variables(model, optimizer, features):
  """One forward pass on the first image (creates the model's variables) and the optimizer's
  slots. Variable shapes do not depend on the batch size: one image is enough."""
  images = features[fields.InputDataFields.image][:1]
  true_shapes = features[fields.InputDataFields.true_image_shape][:1]
  predictions = model.predict(images, true_shapes, training=False)
  model.postprocess(predictions, true_shapes)
  optimizer.build(model.trainable_variables)


def _first_local_batch(iterator, strategy):
  """The next (features, labels) of a distributed iterator, as this worker's first replica's
  tensors (used to build the variables and for the summary pictures)."""
  return tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0],
                               next(iterator))


def _format_eta(seconds):
  seconds = int(max(seconds, 0))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def train(model_fn, optimizer_fn, dataset_fn, model_dir, settings, strategy=None,
          progress=print):
  """Trains until `settings.num_steps`; returns the final global step (int).

  Args:
    model_fn: () -> DetectionModel (called inside the strategy scope).
    optimizer_fn: () -> (keras optimizer, learning-rate schedule) (inside the scope).
    dataset_fn: (tf.distribute.InputContext) -> tf.data.Dataset of (features, labels) batched
      per replica (fields.py layout, images already preprocessed).
    model_dir: checkpoints and summaries (`<model_dir>/train`) go here.
    settings: TrainSettings.
    strategy: tf.distribute.Strategy (default strategy when None).
    progress: callable(str) for the progress line (print by default).
  Raises:
    TrainingDivergedError: the loss became NaN/Inf (the last checkpoint is the last good one).
  """
  strategy = strategy or tf.distribute.get_strategy()
  num_replicas = strategy.num_replicas_in_sync
  chief = distribution.is_chief(strategy)
  out_dir = distribution.worker_dir(model_dir, strategy)
  os.makedirs(out_dir, exist_ok=True)

  dataset = strategy.distribute_datasets_from_function(dataset_fn)
  # One input pipeline: its first batch builds the variables (and is not trained on).
  iterator = iter(dataset)
  with strategy.scope():
    model = model_fn()
    optimizer, schedule = optimizer_fn()
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                              aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    sample_local = _first_local_batch(iterator, strategy)
    # Cross-replica context: Keras creates mirrored variables here.
    _build_variables(model, optimizer, sample_local[0])
    precision.apply(model, precision.policy_for(settings.use_bfloat16))
    average = (ema_lib.MovingAverage(model.trainable_variables, settings.moving_average_decay)
               if settings.use_moving_average else None)
    ckpt = checkpoints.make_checkpoint(global_step, model, optimizer, average)
  manager = tf.train.CheckpointManager(ckpt, out_dir, max_to_keep=settings.max_to_keep)

  if manager.latest_checkpoint:
    ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    progress(f"resumed from {manager.latest_checkpoint} at step {int(global_step.numpy())}")
  elif settings.fine_tune_checkpoint:
    checkpoints.restore_fine_tune(model, settings.fine_tune_checkpoint,
                                  settings.fine_tune_checkpoint_type,
                                  settings.fine_tune_checkpoint_version)
    if average is not None:  # start the averages from the restored weights
      for avg, var in zip(average.averages, model.trainable_variables):
        avg.assign(var)
    progress(f"fine-tuning from {settings.fine_tune_checkpoint} "
             f"({settings.fine_tune_checkpoint_type})")

  replica_step = train_step.make_replica_step(
      model, optimizer, global_step, num_replicas, settings.gradient_clipping_by_norm,
      settings.add_regularization_loss, average, jit_compile=settings.xla)

  def one_step(iterator):
    features, labels = next(iterator)
    per_replica = strategy.run(replica_step, args=(features, labels))
    return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()}

  @tf.function
  def run_steps(iterator, num):
    for _ in tf.range(num - 1):
      one_step(iterator)
    return one_step(iterator)

  writer = (tf.summary.create_file_writer(os.path.join(out_dir, "train"))
            if settings.record_summaries and chief else tf.summary.create_noop_writer())
  step = int(global_step.numpy())
  if step == 0 and not manager.latest_checkpoint:
    manager.save(checkpoint_number=0)
  last_saved = step
  start_step, start_time = step, time.time()
  last_log_step, last_log_time = step, start_time
  last_summary = step // max(settings.summary_every_n, 1)
  while settings.num_steps <= 0 or step < settings.num_steps:
    next_ckpt = (step // settings.checkpoint_every_n + 1) * settings.checkpoint_every_n
    n = min(settings.steps_per_loop, settings.log_every_n, next_ckpt - step)
    if settings.num_steps > 0:
      n = min(n, settings.num_steps - step)
    losses = run_steps(iterator, tf.constant(n, tf.int64))
    step = int(global_step.numpy())
    total = float(losses[train_step.TOTAL])
    if not np.isfinite(total):
      raise TrainingDivergedError(
          f"train: the loss became {total} at or before step {step} (losses: "
          f"{ {k: float(v) for k, v in losses.items()} }); stopped without saving, the last "
          f"good checkpoint is {manager.latest_checkpoint} (step {last_saved}). Lower the "
          "learning rate or set gradient_clipping_by_norm.")
    now = time.time()
    if step - last_log_step >= settings.log_every_n or step == settings.num_steps:
      rate = (step - last_log_step) / max(now - last_log_time, 1e-9)
      eta = (f" ETA {_format_eta((settings.num_steps - step) / max(rate, 1e-9))}"
             if settings.num_steps > 0 else "")
      progress(f"step {step}{'/' + str(settings.num_steps) if settings.num_steps else ''} "
               f"loss {total:.4f} lr {float(schedule(optimizer.iterations)):.3g} "
               f"{rate:.2f} steps/s{eta}")
      last_log_step, last_log_time = step, now
    if step // max(settings.summary_every_n, 1) != last_summary or step == settings.num_steps:
      last_summary = step // max(settings.summary_every_n, 1)
      with writer.as_default():
        summaries.write_scalars(losses, float(schedule(optimizer.iterations)),
                                (step - start_step) / max(now - start_time, 1e-9), step)
    if step % settings.checkpoint_every_n == 0 or step == settings.num_steps:
      manager.save(checkpoint_number=step)
      last_saved = step
      if settings.num_summary_images and chief and settings.record_summaries:
        with writer.as_default():
          summaries.write_prediction_images(model, sample_local[0], step,
                                            settings.num_summary_images)
  writer.flush()
  if not chief:
    shutil.rmtree(out_dir, ignore_errors=True)
  return step
