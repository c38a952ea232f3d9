"""Keeps a copy of the best checkpoint by one eval metric (`--keep_best_metric`).

Continuous eval sees every checkpoint once, while training keeps only the newest few
(max_to_keep=7): the best one is usually deleted by the time training ends. After each
evaluation, `BestCheckpointKeeper.update` compares the chosen metric (a key of metrics.json,
e.g. `DetectionMasks_Precision/mAP` or `Loss/total_loss`) with the best so far and, when it is
better, writes the evaluated weights to `<model_dir>/best/`:

  ckpt-<step>.index, ckpt-<step>.data-*   step, model (and moving_average): the training layout
                                          without the optimizer
  checkpoint                              TensorFlow's state file -> that checkpoint, so
                                          `exporter_main_v2 --trained_checkpoint_dir=<model_dir>/best`
                                          exports it, and eval can read it like any checkpoint dir
  best.json                               {"metric", "mode", "value", "step", "checkpoint"}

Writes are ordered so that a crash never loses the previous best: the new checkpoint under a new
name, then best.json, then the state file (each replaced atomically), then the old files are
removed. A keeper started on an existing folder trusts best.json and repairs the rest.
"""

import glob
import json
import logging
import math
import os
import shutil

from object_detection.core.errors import ConfigError

log = logging.getLogger(__name__)

BEST_JSON = "best.json"
STATE_FILE = "checkpoint"
MODES = ("auto", "max", "min")


def resolve_mode(metric, mode="auto"):
  """'max' (higher is better) or 'min'; 'auto' is 'min' for losses (a name containing "loss",
  as `Loss/total_loss`), else 'max' (AP, AR)."""
  if mode not in MODES:
    raise ConfigError(f"--keep_best_mode: unknown mode (got {mode!r}; expected one of: "
                      f"{', '.join(MODES)})")
  if mode == "auto":
    return "min" if "loss" in metric.lower() else "max"
  return mode


def _write_atomically(path, text):
  temp = f"{path}.tmp-{os.getpid()}"
  with open(temp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(temp, path)


def _state_text(name):
  return f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n'


class BestCheckpointKeeper:
  """Copies the best evaluated checkpoint into `directory` (see the module doc).

  Args:
    directory: the folder of the kept checkpoint (`<model_dir>/best`).
    metric: a metrics.json key.
    mode: 'max', 'min' or 'auto' (see `resolve_mode`).
  """

  def __init__(self, directory, metric, mode="auto"):
    if not metric:
      raise ConfigError("--keep_best_metric: empty (got ''; expected a metrics.json key such as "
                        "DetectionMasks_Precision/mAP)")
    self.directory = os.fspath(directory)
    self.metric = metric
    self.mode = resolve_mode(metric, mode)
    self._repair()

  @property
  def best(self):
    """The contents of best.json, or None before the first kept checkpoint."""
    path = os.path.join(self.directory, BEST_JSON)
    if not os.path.exists(path):
      return None
    with open(path, encoding="utf-8") as f:
      return json.load(f)

  def is_better(self, value):
    """True when `value` beats the kept one (anything finite beats nothing)."""
    best = self.best
    if best is None or best.get("metric") != self.metric:
      return True
    return value > best["value"] if self.mode == "max" else value < best["value"]

  def update(self, step, metrics, write_checkpoint):
    """Keeps the checkpoint of `step` when `metrics[metric]` is the best so far.

    Args:
      step: int, the evaluated checkpoint's global step.
      metrics: {name: float} of that evaluation.
      write_checkpoint: callable(prefix) writing the evaluated weights at `prefix`
        (`<prefix>.index`, `<prefix>.data-*`).
    Returns:
      True when this checkpoint became the kept one.
    Raises:
      ConfigError: the metric is not among `metrics`.
    """
    if self.metric not in metrics:
      raise ConfigError(
          f"--keep_best_metric: no such metric in this evaluation (got {self.metric!r}; "
          f"expected one of: {', '.join(sorted(metrics))})")
    value = float(metrics[self.metric])
    if not math.isfinite(value):
      log.warning("keep best: %s is %s at step %d; not kept", self.metric, value, step)
      return False
    if not self.is_better(value):
      return False
    previous = self.best
    os.makedirs(self.directory, exist_ok=True)
    name = f"ckpt-{int(step)}"
    if previous is not None and previous.get("checkpoint") == name:  # same step, better value
      name += "_1"  # never overwrite the kept files in place
    write_checkpoint(os.path.join(self.directory, name))
    record = {"metric": self.metric, "mode": self.mode, "value": value, "step": int(step),
              "checkpoint": name}
    _write_atomically(os.path.join(self.directory, BEST_JSON),
                      json.dumps(record, indent=1, sort_keys=True) + "\n")
    _write_atomically(os.path.join(self.directory, STATE_FILE), _state_text(name))
    self._remove_all_but(name)
    log.info("keep best: %s = %.6g at step %d -> %s", self.metric, value, step,
             os.path.join(self.directory, name))
    return True

  def _repair(self):
    """After a crash: the state file points at best.json's checkpoint, strays are removed."""
    best = self.best
    if best is None or not os.path.exists(
        os.path.join(self.directory, best["checkpoint"] + ".index")):
      return
    _write_atomically(os.path.join(self.directory, STATE_FILE), _state_text(best["checkpoint"]))
    self._remove_all_but(best["checkpoint"])

  def _remove_all_but(self, name):
    for path in glob.glob(os.path.join(self.directory, "ckpt-*")):
      if os.path.basename(path).startswith(name + "."):
        continue
      if os.path.isdir(path):  # a crashed write's temporary folder
        shutil.rmtree(path, ignore_errors=True)
      else:
        os.remove(path)
