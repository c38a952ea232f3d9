"""Runs the novel-class experiment: data, detector, every arm x seed, report.

Full run (PROTOCOL.md; about an hour on 2 shared cores), then the second tier into the same
folder (it reuses the data and the detector) as time allows:
    python -m experiments.novel_class.run --out experiments/novel_class/results
    python -m experiments.novel_class.run --out experiments/novel_class/results \
        --arms resnet4/predicted,hourglass52/predicted,resnet8
CI smoke run (seconds; checks that the pipeline runs and every number is finite):
    python -m experiments.novel_class.run --small --out /tmp/novel_class_small
Pilot runs for sizing (`--hide_unseen`) print and store no unseen-class number.

Writes to --out: results.json (settings, detector, baselines, one record per arm x seed,
rewritten atomically after each run; an interrupted run resumes where it stopped),
results.md (the table), novel_class.png (the plot), detector.ckpt* (the shared detector).
"""

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from experiments.novel_class import data as data_lib
from experiments.novel_class import evaluate as eval_lib
from experiments.novel_class import model as model_lib
from experiments.novel_class import report
from experiments.novel_class import shapes
from experiments.novel_class import train as train_lib


@dataclasses.dataclass(frozen=True)
class Arm:
  """One configuration of the mask head; run once per seed."""
  name: str
  head: str
  mask_size: int = 32
  crops: str = "gt"            # "gt" or "predicted"
  supervision: str = "partial"  # "partial" (seen classes' masks) or "all"
  budget: int = 1               # multiplies the mask-head training steps


MAIN_HEADS = ("resnet4", "embedding_projection", "hourglass20", "hourglass52")
# The full run (PROTOCOL.md, sized by pilot 2 to about an hour on the shared 2 cores): the
# primary contrast, the trend over head sizes and the all-classes upper bound.
FULL_ARMS = tuple(Arm(h, h) for h in MAIN_HEADS) + (
    Arm("resnet4/all", "resnet4", supervision="all"),)
# Second tier (PROTOCOL.md): run afterwards into the same folder with --arms, as time allows.
EXTRA_ARMS = (
    Arm("resnet4/predicted", "resnet4", crops="predicted"),
    Arm("hourglass52/predicted", "hourglass52", crops="predicted"),
    Arm("resnet8", "resnet8"),
    Arm("hourglass52/all", "hourglass52", supervision="all"),
    Arm("resnet4/mask16", "resnet4", mask_size=16),
    Arm("hourglass20/mask16", "hourglass20", mask_size=16),
    Arm("resnet4/x2steps", "resnet4", budget=2),
    Arm("hourglass52/x2steps", "hourglass52", budget=2))
SMALL_ARMS = (Arm("resnet4", "resnet4"), Arm("resnet4/predicted", "resnet4", crops="predicted"))

FULL = dict(image_size=128, num_train=2000, num_val=256, max_objects=4, detector_steps=300,
            detector_batch=16, detector_lr=2e-3, head_steps=150, head_batch=8, head_lr=3e-3,
            num_init_channels=16, seeds=(0, 1, 2), data_seed=0)
SMALL = dict(image_size=64, num_train=24, num_val=8, max_objects=3, detector_steps=3,
             detector_batch=4, detector_lr=2e-3, head_steps=2, head_batch=4, head_lr=1e-3,
             num_init_channels=4, seeds=(0,), data_seed=0)


def _write_json(path, obj):
  """Atomic write (temp file in the same folder + rename)."""
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
  with os.fdopen(fd, "w") as f:
    json.dump(obj, f, indent=1, sort_keys=True)
  os.replace(tmp, path)


def _log(*args):
  print(time.strftime("%H:%M:%S"), *args, flush=True)


def _machine():
  return {"load_avg": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}


def prepare_detector(settings, train, val, out, hide_unseen):
  """Trains (or restores) the shared detector; returns (model, record)."""
  s = settings
  pipeline = model_lib.load_detector_pipeline(s["detector_steps"], s["detector_batch"],
                                              s["detector_lr"], image_size=s["image_size"])
  tf.keras.utils.set_random_seed(s["data_seed"])
  detector = model_lib.build(pipeline)
  ckpt = tf.train.Checkpoint(parts=model_lib.detector_parts(detector))
  prefix = os.path.join(out, "detector.ckpt")
  record_path = os.path.join(out, "detector.json")
  if os.path.exists(record_path):
    ckpt.read(prefix).assert_existing_objects_matched()
    with open(record_path) as f:
      record = json.load(f)
    _log("restored the detector from", prefix)
    return detector, record
  _log(f"training the detector: {s['detector_steps']} steps of {s['detector_batch']} images")
  record = train_lib.train_detector(detector, pipeline, train, seed=s["data_seed"], log=_log)
  boxes, scores, classes = train_lib.detect(detector, val.images)
  record.update(eval_lib.detection_box_ap(boxes, scores, classes, val))
  ckpt.write(prefix)
  _write_json(record_path, record)
  _log("detector:", eval_lib.redact(record) if hide_unseen else record)
  return detector, record


def run_arm(arm, seed, settings, detector, train, val, matches, log):
  """Trains one arm with one seed and evaluates it; returns its record."""
  s = settings
  allowed = (shapes.SEEN_IDS if arm.supervision == "partial"
             else tuple(range(1, len(shapes.CLASSES) + 1)))
  pipeline = model_lib.load_pipeline(
      model_lib.HEADS[arm.head], arm.mask_size, allowed,
      num_init_channels=s["num_init_channels"], steps=s["head_steps"] * arm.budget,
      batch_size=s["head_batch"], learning_rate=s["head_lr"], image_size=s["image_size"])
  tf.keras.utils.set_random_seed(1000 + seed)
  model = model_lib.build(pipeline)
  model_lib.init_from_detector(detector, model)
  timer = train_lib.Timer()
  training = train_lib.train_arm(model, pipeline, train, seed,
                                 matches=matches if arm.crops == "predicted" else None, log=log)
  eval_timer = train_lib.Timer()
  metrics = eval_lib.evaluate(model, val)
  return {"arm": arm.name, "seed": seed, **dataclasses.asdict(arm),
          "mask_net_params": model_lib.count_params(model.deepmac_task.mask_net),
          "mask_task_params": model_lib.count_params(model.deepmac_task),
          "train": training, "eval": eval_timer.seconds(), "total": timer.seconds(),
          "machine": _machine(), "metrics": metrics}


def main(argv=None):
  """Runs the experiment; `--small` runs tf.functions eagerly and restores the setting after."""
  eager_before = tf.config.functions_run_eagerly()
  try:
    return _main(argv)
  finally:
    tf.config.run_functions_eagerly(eager_before)


def _main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", required=True, help="output folder (created; resumable)")
  parser.add_argument("--small", action="store_true", help="CI smoke run (tiny everything)")
  parser.add_argument("--hide_unseen", action="store_true",
                      help="pilot mode: no unseen-class number is printed or stored")
  parser.add_argument("--arms", default=None,
                      help="comma-separated arm names to run (default: all of the mode)")
  parser.add_argument("--seeds", default=None, help="comma-separated seeds (default: the mode's)")
  parser.add_argument("--arm_major", action="store_true",
                      help="run every seed of an arm before the next arm (second tier); "
                           "default: every arm of a seed before the next seed")
  parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="override a setting (pilots), e.g. --set head_steps=150")
  args = parser.parse_args(argv)

  settings = dict(SMALL if args.small else FULL)
  for item in args.set:
    key, value = item.split("=", 1)
    if key not in settings:
      parser.error(f"--set {item}: unknown setting (expected one of {sorted(settings)})")
    settings[key] = type(settings[key])(value) if not isinstance(settings[key], tuple) else (
        tuple(int(v) for v in value.split(",")))
  if args.seeds:
    settings["seeds"] = tuple(int(v) for v in args.seeds.split(","))
  arms = SMALL_ARMS if args.small else FULL_ARMS
  if args.arms:
    by_name = {a.name: a for a in FULL_ARMS + EXTRA_ARMS + SMALL_ARMS}
    unknown = [n for n in args.arms.split(",") if n not in by_name]
    if unknown:
      parser.error(f"--arms: unknown arm(s) {unknown} (expected some of {sorted(by_name)})")
    arms = tuple(by_name[n] for n in args.arms.split(","))

  os.makedirs(args.out, exist_ok=True)
  results_path = os.path.join(args.out, "results.json")
  stored_settings = {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
  results = {"settings": stored_settings, "runs": [], "hide_unseen": args.hide_unseen}
  if os.path.exists(results_path):
    with open(results_path) as f:
      previous = json.load(f)
    if {k: v for k, v in previous["settings"].items() if k != "seeds"} != {
        k: v for k, v in stored_settings.items() if k != "seeds"}:
      sys.exit(f"{results_path}: written with other settings ({previous['settings']}); "
               "use another --out")
    results["runs"] = previous["runs"]
    results["elapsed"] = previous.get("elapsed", {"wall_s": 0.0, "cpu_s": 0.0})
  results.setdefault("elapsed", {"wall_s": 0.0, "cpu_s": 0.0})
  timer = train_lib.Timer()
  elapsed_before = dict(results["elapsed"])
  results["machine_start"] = _machine()
  _log("settings:", settings, "machine:", results["machine_start"])

  s = settings
  if args.small:
    # A few steps on tiny inputs: tracing the train steps would cost more than running them.
    tf.config.run_functions_eagerly(True)
  train = data_lib.make_dataset(s["data_seed"], "train", s["num_train"], s["image_size"],
                                s["max_objects"])
  val = data_lib.make_dataset(s["data_seed"], "val", s["num_val"], s["image_size"],
                              s["max_objects"])
  _log(f"data: {len(train)} train / {len(val)} val images, "
       f"{int((train.classes > 0).sum())} / {int((val.classes > 0).sum())} instances",
       timer.seconds())
  detector, results["detector"] = prepare_detector(settings, train, val, args.out,
                                                         args.hide_unseen)
  det_train = train_lib.detect(detector, train.images)
  matches = train_lib.match_detections(det_train[0], train)
  det_val = train_lib.detect(detector, val.images)
  results["detector"]["matched_detections_per_image"] = float(np.mean([len(m) for m in matches]))
  results["baselines"] = eval_lib.baselines(
      val, eval_lib.seen_shape_prior(train), *det_val)
  _log("detections and baselines ready", timer.seconds())

  def save():
    now = timer.seconds()
    results["elapsed"] = {k: round(elapsed_before[k] + now[k], 1) for k in now}
    results["machine_end"] = _machine()
    stored = eval_lib.redact(results) if args.hide_unseen else results
    _write_json(results_path, stored)
    report.write(stored, args.out)

  done = {(r["arm"], r["seed"]) for r in results["runs"]}
  if args.arm_major:
    order = [(arm, seed) for arm in arms for seed in s["seeds"]]
  else:
    order = [(arm, seed) for seed in s["seeds"] for arm in arms]
  for arm, seed in order:
    if (arm.name, seed) in done:
      continue
    _log(f"arm {arm.name} seed {seed}")
    record = run_arm(arm, seed, settings, detector, train, val, matches, _log)
    shown = eval_lib.redact(record) if args.hide_unseen else record
    _log("  ->", json.dumps({k: v for k, v in shown["metrics"].items()
                             if not k.startswith("per_class")}), record["total"])
    results["runs"].append(shown)
    save()
  save()
  _log("done", results["elapsed"])
  return results


if __name__ == "__main__":
  main()
