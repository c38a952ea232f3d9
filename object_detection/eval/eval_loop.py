"""Evaluation of a model over an eval dataset (once, or continuously on new checkpoints).

Per batch (the original's eager_eval_loop): model.predict with the ground truth (training=False),
model.loss (the eval loss includes e.g. the DeepMAC mask loss on GT boxes), postprocess,
per-image preparation (`eval.prepare`), evaluators fed image by image. Results: metrics +
mean eval losses, written to TensorBoard (`<model_dir>/eval`) and to
`<model_dir>/eval/metrics.json` (latest) + `metrics_history.jsonl` (one line per checkpoint).
"""

import json
import logging
import os
import time

import numpy as np
import tensorflow as tf

from object_detection.core import fields
from object_detection.core.errors import DataError
from object_detection.data import record_guard
from object_detection.eval import prepare
from object_detection.training import checkpoints
from object_detection.training import summaries
from object_detection.training import train_step

IN = fields.InputDataFields
log = logging.getLogger(__name__)


def evaluate(model, dataset, evaluators, max_batches=None, add_regularization_loss=False,
             on_image=None):
  """Runs the model over `dataset` and returns {metric: float} including `Loss/*` means.

  Args:
    model: DetectionModel (weights already restored).
    dataset: iterable of (features, labels) batches (fields.py layout; eval keeps
      original_image_spatial_shape).
    evaluators: objects with add_single_ground_truth_image_info / add_single_detected_image_info
      / evaluate / clear (eval.metrics).
    max_batches: stop after this many batches (None: the whole dataset).
    on_image: optional callback(image_index, features, labels, detections, i) for
      visualisations; called for every image.
  """
  with_masks = any(getattr(e, "needs_masks", False) for e in evaluators)

  @tf.function
  def run(features, labels):
    losses, predictions = train_step.compute_losses(
        model, features, labels, training=False,
        add_regularization_loss=add_regularization_loss)
    detections = model.postprocess(predictions, features[IN.true_image_shape])
    return losses, detections

  for e in evaluators:
    e.clear()
  loss_sums, batches, index = {}, 0, 0
  skipped_before = record_guard.totals()["skipped_records"]
  for features, labels in _batches(dataset):
    if max_batches is not None and batches >= max_batches:
      break
    losses, detections = run(features, labels)
    for k, v in losses.items():
      loss_sums[k] = loss_sums.get(k, 0.0) + float(v)
    detections = prepare.to_numpy(detections)
    for i in range(int(np.shape(features[IN.image])[0])):
      gt = prepare.groundtruth_for_image(labels, features, i)
      det = prepare.detections_for_image(detections, features, i, with_masks=with_masks)
      for e in evaluators:
        e.add_single_ground_truth_image_info(index, gt)
        e.add_single_detected_image_info(index, det)
      if on_image is not None:
        on_image(index, features, labels, detections, i)
      index += 1
    batches += 1
  skipped = record_guard.totals()["skipped_records"] - skipped_before
  if index == 0:
    if skipped:
      raise DataError(f"evaluate: every eval record was skipped as bad ({skipped} records; the "
                      "log names each file and record)")
    raise ValueError("evaluate: the eval dataset produced no images (check eval_input_reader)")
  metrics = {}
  for e in evaluators:
    metrics.update(e.evaluate())
  metrics.update({k: v / batches for k, v in loss_sums.items()})
  if skipped:
    log.warning("evaluate: %d bad eval records were skipped (the log names each)", skipped)
    metrics["Input/skipped_records"] = float(skipped)
  return metrics


def _batches(dataset):
  """Iterates `dataset`; a TF error caused by bad input is raised as that DataError."""
  iterator = iter(dataset)
  while True:
    try:
      batch = next(iterator)
    except StopIteration:
      return
    except tf.errors.OpError as e:
      record_guard.raise_pending(e)
      raise
    yield batch


def write_metrics(metrics, step, eval_dir, record_summaries=True):
  """TensorBoard scalars + metrics.json + a metrics_history.jsonl line."""
  os.makedirs(eval_dir, exist_ok=True)
  if record_summaries:
    writer = tf.summary.create_file_writer(eval_dir)
    with writer.as_default():
      for k, v in metrics.items():
        summaries.scalar(k, v, step)
    writer.flush()
  record = {"step": int(step), "metrics": {k: float(v) for k, v in metrics.items()}}
  with open(os.path.join(eval_dir, "metrics.json"), "w", encoding="utf-8") as f:
    json.dump(record, f, indent=1, sort_keys=True)
  with open(os.path.join(eval_dir, "metrics_history.jsonl"), "a", encoding="utf-8") as f:
    f.write(json.dumps(record, sort_keys=True) + "\n")


def write_images(images, step, eval_dir):
  """Side-by-side pictures (list of [H, 2W, 3] uint8) as TensorBoard images
  `eval_side_by_side_<i>`, the original's tag names."""
  writer = tf.summary.create_file_writer(eval_dir)
  with writer.as_default():
    for i, picture in enumerate(images):
      summaries.image(f"eval_side_by_side_{i}", np.asarray(picture)[None], step, 1)
  writer.flush()


def eval_continuously(evaluate_fn, checkpoint_dir, num_train_steps=None, timeout=3600,
                      min_interval_secs=0):
  """Evaluates every new checkpoint of `checkpoint_dir` until training ends or times out.

  Args:
    evaluate_fn: callable(checkpoint_path) -> metrics dict (restores, evaluates, writes).
    num_train_steps: stop after evaluating a checkpoint whose step >= this (0/None: never).
    timeout: stop when no new checkpoint appears for this many seconds (--eval_timeout).
  Returns:
    list of (step, metrics) in evaluation order.
  """
  results = []
  for path in tf.train.checkpoints_iterator(checkpoint_dir, min_interval_secs=min_interval_secs,
                                            timeout=timeout):
    step = checkpoints.step_of(path)
    start = time.time()
    metrics = evaluate_fn(path)
    log.info("eval of %s (step %d) took %.1fs", path, step, time.time() - start)
    results.append((step, metrics))
    if num_train_steps and step >= num_train_steps:
      break
  return results
