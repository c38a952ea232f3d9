"""Accuracy of mixed bfloat16 training: the demo config trained in float32 and in bfloat16.

For each training seed, trains the demo's DeepMAC model
(configs/tf2/center_net_deepmac_hourglass10_128x128_shapes_cpu.config, generated shapes: masks
for squares and circles, triangles novel) once with float32 and once with
`train_config.use_bfloat16: true` (evaluated in the precision it trained in), on the same data,
and prints box and mask mAP per run, then mean and standard deviation over seeds per precision.
The seed-to-seed spread within one precision is the run-to-run noise that the float32/bfloat16
difference is compared with.

  python benchmarks/bf16_accuracy.py                       # 3 seeds x 400 steps (~35 CPU-min)
  python benchmarks/bf16_accuracy.py --seeds 0 1 2 3 4 --steps 1000   # the demo's length

Each run is its own process (fresh TensorFlow state; `keras.utils.set_random_seed(seed)`
fixes the initial weights and the input order). Outputs under --work_dir; a JSON summary with
--json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = {"box mAP": "DetectionBoxes_Precision/mAP",
        "mask mAP": "DetectionMasks_Precision/mAP",
        "mask mAP seen": "DetectionMasks_MaskSupervised/Precision/mAP",
        "mask mAP novel": "DetectionMasks_Novel/Precision/mAP"}


def _overrides(steps, batch_size, bf16):
  cosine = "train_config.optimizer.adam_optimizer.learning_rate.cosine_decay_learning_rate"
  out = [f"train_config.batch_size={batch_size}", f"train_config.num_steps={steps}",
         f"{cosine}.total_steps={steps}", f"{cosine}.warmup_steps={max(1, steps // 10)}"]
  if bf16:
    out.append("train_config.use_bfloat16=true")
  return out


def one_run(args):
  """Child: trains and evaluates one (precision, seed); prints METRICS <json>."""
  import keras  # pylint: disable=import-outside-toplevel
  from object_detection import model_lib  # pylint: disable=import-outside-toplevel
  keras.utils.set_random_seed(args.seed)
  overrides = _overrides(args.steps, args.batch_size, args.bf16)
  start = time.time()
  model_lib.run_training(args.config, args.model_dir, overrides=overrides,
                         num_train_steps=args.steps, checkpoint_every_n=args.steps,
                         log_every_n=max(1, args.steps // 4))
  train_s = time.time() - start
  _, metrics = model_lib.run_evaluation(args.config, args.model_dir, args.model_dir,
                                        overrides=overrides, once=True)[0]
  print("METRICS " + json.dumps({"train_s": train_s, **{k: float(v) for k, v in
                                                        metrics.items()}}), flush=True)


def _prepare(work, num_train, num_val):
  from object_detection import demo  # pylint: disable=import-outside-toplevel
  data = os.path.join(work, "data")
  config = os.path.join(work, "pipeline.config")
  if not os.path.exists(os.path.join(data, "val.tfrecord")):
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, "label_map.pbtxt"), "w", encoding="utf-8") as f:
      f.write(demo.LABEL_MAP)
    demo.write_dataset(os.path.join(data, "train.tfrecord"), num_train, 0)
    demo.write_dataset(os.path.join(data, "val.tfrecord"), num_val, 1)
  demo.make_pipeline_config(data, config)
  return config


def _summary(values):
  if len(values) < 2:
    return f"{values[0]:.3f}"
  return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
  p.add_argument("--steps", type=int, default=400)
  p.add_argument("--batch_size", type=int, default=8)
  p.add_argument("--num_train", type=int, default=320)
  p.add_argument("--num_val", type=int, default=48)
  p.add_argument("--work_dir", default="/tmp/deepmac_bf16_accuracy")
  p.add_argument("--json", default=None)
  p.add_argument("--_one", action="store_true", help=argparse.SUPPRESS)
  p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
  p.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
  p.add_argument("--config", help=argparse.SUPPRESS)
  p.add_argument("--model_dir", help=argparse.SUPPRESS)
  args = p.parse_args(argv)
  if args._one:  # pylint: disable=protected-access
    return one_run(args)
  work = os.path.abspath(args.work_dir)
  os.makedirs(work, exist_ok=True)
  config = _prepare(work, args.num_train, args.num_val)
  env = dict(os.environ, PYTHONPATH=REPO)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  runs = []
  for seed in args.seeds:
    for bf16 in (False, True):  # interleaved, so that load changes hit both alike
      name = f"{'bf16' if bf16 else 'fp32'}_seed{seed}"
      model_dir = os.path.join(work, name)
      subprocess.run(["rm", "-rf", model_dir], check=True)
      cmd = [sys.executable, os.path.abspath(__file__), "--_one", "--seed", str(seed),
             "--steps", str(args.steps), "--batch_size", str(args.batch_size), "--config",
             config, "--model_dir", model_dir] + (["--bf16"] if bf16 else [])
      with open(os.path.join(work, f"{name}.log"), "w", encoding="utf-8") as log:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
                              check=False)
        log.write(proc.stdout)
      line = [l for l in proc.stdout.splitlines() if l.startswith("METRICS ")]
      if proc.returncode or not line:
        raise RuntimeError(f"{name} failed (exit {proc.returncode}); see {work}/{name}.log")
      metrics = json.loads(line[0][len("METRICS "):])
      runs.append({"precision": "bf16" if bf16 else "fp32", "seed": seed, **metrics})
      print(f"{name}: " + ", ".join(f"{k} {metrics.get(v, float('nan')):.3f}"
                                    for k, v in KEYS.items()) +
            f", train {metrics['train_s']:.0f} s", flush=True)
  print(f"\n{args.steps} steps, batch {args.batch_size}, seeds {args.seeds}: mean ± std over "
        "seeds\n")
  print("| precision | " + " | ".join(KEYS) + " | train s |")
  print("|---" * (len(KEYS) + 2) + "|")
  for precision in ("fp32", "bf16"):
    chosen = [r for r in runs if r["precision"] == precision]
    cells = [_summary([r.get(v, float("nan")) for r in chosen]) for v in KEYS.values()]
    cells.append(_summary([r["train_s"] for r in chosen]))
    print(f"| {precision} | " + " | ".join(cells) + " |")
  diffs = {k: [b[v] - a[v] for a, b in zip(
      [r for r in runs if r["precision"] == "fp32"],
      [r for r in runs if r["precision"] == "bf16"])] for k, v in KEYS.items()}
  print("| bf16 - fp32 (same seed) | " + " | ".join(_summary(d) for d in diffs.values()) +
        " | |")
  if args.json:
    with open(args.json, "w", encoding="utf-8") as f:
      json.dump({"runs": runs, "steps": args.steps, "seeds": args.seeds}, f, indent=1)
  return runs


if __name__ == "__main__":
  main()
