"""Speed and memory of this package beside the original Object Detection API, in one run.

One command per workload; each runs the original (through the reference harness, when it is
built) and this package on the same config and the same TFRecords, one after the other, each in
its own process, and prints a markdown table (plus the per-step times):

  python benchmarks/compare_reference.py tiny_train        # tiny DeepMAC (HG-10, 128, batch 4, 8 slots)
  python benchmarks/compare_reference.py deepmac512_train  # DeepMAC 512 (HG-104 + HG-52 head), batch 1
  python benchmarks/compare_reference.py hg104_infer       # CenterNet HG-104 512 inference, batch 1

  options: --steps N (timed steps), --warmup N, --no_reference (ours only), --no_bf16,
           --work_dir DIR (data, configs and model dirs; reused between runs), --json OUT
  Run full-size workloads alone: `flock /tmp/heavy.lock python benchmarks/compare_reference.py ...`

Columns:
  original / ours: median seconds per step (train: one step per tf.function call, as the
    harness's train_ref.py runs the original; inference: one image per call) after the warm-up;
    "first step" rows are the wall time from process launch to the end of step 1 (imports,
    config, input pipeline, model build, tracing and the first step: what a user waits for).
    Step times are the intervals between the per-step log lines as this script receives them,
    the same measure for both sides.
  ratio: ours / original (float32). bf16 rows are ours with mixed bfloat16
    (`train_config.use_bfloat16: true`, or the policy for inference) against the original's
    float32: the original uses bfloat16 only on TPU.
  GFLOP/s: each side's FLOPs per step divided by its time, next to this machine's measured
    fp32 / bf16 peaks (3x3 convolution, 256 -> 256 channels at 128x128, the dominant layer
    shape of the hourglass). FLOPs are TensorFlow's profiler count of the forward pass
    (backbone + heads, plus the DeepMAC mask head: on every padded box slot for the original,
    on the real boxes for ours, their mean count taken from the training annotations); a train
    step counts 3x the forward.
  peak RSS: maximum resident memory of each process (os.wait4), and the ratio.

The original's data are converted by its own create_coco_tf_record.py (--include_masks):
tiny_train uses the harness's synthetic shapes (make_data.py) and its
deepmac_tiny_shapes_128.config; deepmac512_train uses ../shared/data/coco_mini and
center_net_deepmac_512x512_voc_only_tpu-32.config with batch 1 and no fine-tune checkpoint (as
the harness's bench_train512.sh); hg104_infer uses the same config without its
deepmac_mask_estimation block (plain CenterNet HG-104), random weights, one coco_mini photo.
Without the harness (--no_reference or not built) this package's converter writes the records.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(os.path.dirname(REPO), "shared", "reference", "harness")
SHARED = os.path.join(os.path.dirname(REPO), "shared")
REF = os.environ.get("REF") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "deepmac-reference")
DEEPMAC_512 = "center_net_deepmac_512x512_voc_only_tpu-32.config"
WORKLOADS = ("tiny_train", "deepmac512_train", "hg104_infer")


# ------------------------------------------------------------------------ process running
def _reference_available():
  return (os.path.exists(os.path.join(REF, "venv", "bin", "python"))
          and os.path.exists(os.path.join(HARNESS, "env.sh")))


def _ours_env():
  env = dict(os.environ, PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  return env


def _reference_env():
  env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
  env.update(PYTHONUNBUFFERED="1", REF=REF)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  return env


def _reference_cmd(args):
  """bash command running `args` with the harness's environment (its venv, TF_USE_LEGACY_KERAS)."""
  quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in args)
  return ["bash", "-c", f"source '{HARNESS}/env.sh' && exec {quoted}"]


def run_timed(cmd, env, log_path, pattern, cwd=None):
  """Runs cmd; returns {launch_to: [seconds from launch to each line matching pattern],
  groups: [match groups], max_rss_mb, rc, seconds}. Output goes to log_path."""
  regex = re.compile(pattern)
  stamps, groups = [], []
  start = time.monotonic()
  with open(log_path, "w", encoding="utf-8") as log:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    for line in proc.stdout:
      now = time.monotonic() - start
      log.write(line)
      match = regex.search(line)
      if match:
        stamps.append(now)
        groups.append(match.groups())
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
  return {"launch_to": stamps, "groups": groups, "max_rss_mb": usage.ru_maxrss / 1024.0,
          "rc": proc.returncode, "seconds": time.monotonic() - start, "log": log_path}


def _check(result, what):
  if result["rc"] != 0:
    with open(result["log"], encoding="utf-8") as f:
      tail = f.read()[-3000:]
    raise RuntimeError(f"{what} failed (exit {result['rc']}); log {result['log']}:\n{tail}")
  return result


def _step_times(launch_to):
  """Intervals between successive step lines: [step 2 - step 1, ...]."""
  return [b - a for a, b in zip(launch_to, launch_to[1:])]


# ------------------------------------------------------------------------------- data prep
def _sh(cmd, env, log_path, cwd=None):
  with open(log_path, "w", encoding="utf-8") as log:
    rc = subprocess.call(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
  if rc:
    raise RuntimeError(f"{' '.join(cmd)} failed (exit {rc}); log {log_path}")


def _convert(images, train_json, val_json, out_dir, use_reference, work):
  """COCO json -> TFRecords with masks (the original's converter when available)."""
  if os.path.exists(os.path.join(out_dir, "done")):
    return
  shutil.rmtree(out_dir, ignore_errors=True)
  flags = [f"--train_image_dir={images[0]}", f"--val_image_dir={images[1]}",
           f"--train_annotations_file={train_json}", f"--val_annotations_file={val_json}",
           f"--output_dir={out_dir}", "--include_masks"]
  if use_reference:
    src = os.path.join(REF, "src", "tf_models_research_object_detection-2.8.0.post1",
                       "object_detection", "dataset_tools", "create_coco_tf_record.py")
    cmd = _reference_cmd(["python", src, "--logtostderr", f"--test_image_dir={images[1]}",
                          f"--testdev_annotations_file={val_json}"] + flags)
    _sh(cmd, _reference_env(), os.path.join(work, "convert.log"), cwd=work)
  else:
    _sh([sys.executable, "-m", "object_detection.dataset_tools.create_coco_tf_record",
         "--quiet"] + flags, _ours_env(), os.path.join(work, "convert.log"))
  with open(os.path.join(out_dir, "done"), "w", encoding="utf-8") as f:
    f.write("ok\n")


def _write_label_map(categories, path):
  with open(path, "w", encoding="utf-8") as f:
    for c in categories:
      f.write('item {\n  id: %d\n  name: "%s"\n}\n' % (c["id"], c["name"]))


def _records(out_dir, split):
  names = sorted(n for n in os.listdir(out_dir) if n.startswith(f"coco_{split}.record"))
  if not names:
    raise RuntimeError(f"{out_dir}: no coco_{split}.record* shards")
  total = re.search(r"of-(\d+)$", names[0]).group(1)
  return os.path.join(out_dir, f"coco_{split}.record-?????-of-{total}")


def prepare_tiny(work, use_reference):
  """Harness synthetic shapes + its tiny DeepMAC config -> config path."""
  data = os.path.join(work, "shapes")
  if not os.path.exists(os.path.join(data, "annotations", "instances_train.json")):
    env = _reference_env() if use_reference else dict(os.environ)
    python = os.path.join(REF, "venv", "bin", "python") if use_reference else sys.executable
    _sh([python, os.path.join(HARNESS, "make_data.py"), "--out", data], env,
        os.path.join(work, "make_data.log"))
  tfrecord = os.path.join(data, "tfrecord")
  _convert((os.path.join(data, "images", "train"), os.path.join(data, "images", "val")),
           os.path.join(data, "annotations", "instances_train.json"),
           os.path.join(data, "annotations", "instances_val.json"), tfrecord, use_reference,
           work)
  with open(os.path.join(HARNESS, "configs", "deepmac_tiny_shapes_128.config"),
            encoding="utf-8") as f:
    text = f.read()
  text = text.replace("REF_DIR/data/label_map.pbtxt", os.path.join(data, "label_map.pbtxt"))
  text = text.replace("REF_DIR/data/tfrecord/coco_train.record-?????-of-00100",
                      _records(tfrecord, "train"))
  text = text.replace("REF_DIR/data/tfrecord/coco_val.record-?????-of-00050",
                      _records(tfrecord, "val"))
  path = os.path.join(work, "tiny.config")
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return path


def _deepmac512_text(work, use_reference, steps):
  coco = os.path.join(SHARED, "data", "coco_mini")
  data = os.path.join(work, "coco_mini")
  os.makedirs(data, exist_ok=True)
  with open(os.path.join(coco, "instances_train.json"), encoding="utf-8") as f:
    _write_label_map(json.load(f)["categories"], os.path.join(data, "label_map.pbtxt"))
  tfrecord = os.path.join(data, "tfrecord")
  _convert((os.path.join(coco, "images"), os.path.join(coco, "images")),
           os.path.join(coco, "instances_train.json"), os.path.join(coco, "instances_val.json"),
           tfrecord, use_reference, work)
  with open(os.path.join(SHARED, "reference_configs", DEEPMAC_512), encoding="utf-8") as f:
    text = f.read()
  text = text.replace("batch_size: 128", "batch_size: 1")
  text = text.replace("num_steps: 50000", f"num_steps: {steps}")
  text = re.sub(r'fine_tune_checkpoint: "[^"]*"', 'fine_tune_checkpoint: ""', text)
  text = text.replace("PATH_TO_BE_CONFIGURED/label_map.txt",
                      os.path.join(data, "label_map.pbtxt"))
  text = text.replace("PATH_TO_BE_CONFIGURED/train2017-?????-of-00256.tfrecord",
                      _records(tfrecord, "train"))
  text = text.replace("PATH_TO_BE_CONFIGURED/val2017-?????-of-00032.tfrecord",
                      _records(tfrecord, "val"))
  return text


def prepare_deepmac512(work, use_reference, steps):
  path = os.path.join(work, "deepmac512_b1.config")
  with open(path, "w", encoding="utf-8") as f:
    f.write(_deepmac512_text(work, use_reference, steps))
  return path


def _drop_block(text, name):
  """Removes `name { ... }` (balanced braces) from a text-format config."""
  start = text.index(name + " {")
  depth, i = 0, text.index("{", start)
  while True:
    depth += {"{": 1, "}": -1}.get(text[i], 0)
    i += 1
    if depth == 0:
      return text[:start] + text[i:]


def prepare_hg104(work, use_reference):
  """CenterNet HG-104 512 config (the DeepMAC 512 config without its mask task) + one photo."""
  path = os.path.join(work, "centernet_hg104_512.config")
  with open(path, "w", encoding="utf-8") as f:
    f.write(_drop_block(_deepmac512_text(work, use_reference, 1), "deepmac_mask_estimation"))
  images = os.path.join(SHARED, "data", "coco_mini", "images")
  return path, os.path.join(images, sorted(os.listdir(images))[0])


# -------------------------------------------------------------------- children (our side)
def child_train(args):
  """Our training: the train loop of model_main_tf2, one step per call, a line per step."""
  from object_detection import model_lib  # pylint: disable=import-outside-toplevel
  overrides = ["train_config.use_bfloat16=true"] if args.bf16 else []
  model_lib.run_training(args.config, args.model_dir, overrides=overrides,
                         num_train_steps=args.steps, checkpoint_every_n=10 ** 9,
                         log_every_n=1, progress=lambda line: print("PROGRESS", line, flush=True))


def child_infer(args):
  """Our inference on one photo: preprocess -> predict -> postprocess in one tf.function."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from object_detection.builders import model_builder  # pylint: disable=import-outside-toplevel
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  from object_detection.core import precision  # pylint: disable=import-outside-toplevel
  pipeline = loader.load_pipeline_config(args.config)
  model = model_builder.build(pipeline.model, is_training=False)
  model.build_variables()
  precision.apply(model, precision.policy_for(args.bf16))
  if args.bf16:  # as exporter_main_v2 --use_bfloat16 exports it
    precision.bfloat16_weights(model)
  images = tf.constant(np.asarray(Image.open(args.image).convert("RGB"))[None])

  @tf.function
  def detect(images):
    preprocessed, shapes = model.preprocess(tf.cast(images, tf.float32))
    return model.postprocess(model.predict(preprocessed, shapes, training=False), shapes)

  start = time.perf_counter()
  float(tf.reduce_sum(detect(images)["detection_boxes"]))
  print(f"FIRST {time.perf_counter() - start:.4f}", flush=True)
  for _ in range(args.steps):
    start = time.perf_counter()
    float(tf.reduce_sum(detect(images)["detection_boxes"]))
    print(f"STEP {time.perf_counter() - start:.4f}", flush=True)


def child_flops(args):
  """Forward FLOPs (profiler): predict (backbone + heads) at the batch size, and the DeepMAC
  mask head per box (crop + mask network, one box per image)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from tensorflow.python.profiler import model_analyzer  # pylint: disable=import-outside-toplevel
  from tensorflow.python.profiler import option_builder  # pylint: disable=import-outside-toplevel
  from object_detection.builders import model_builder  # pylint: disable=import-outside-toplevel
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  pipeline = loader.load_pipeline_config(args.config)
  model = model_builder.build(pipeline.model, is_training=True)
  batch = int(pipeline.train_config.batch_size) if args.train else 1
  preprocessed, shapes = model.preprocess(tf.zeros([batch, args.size, args.size, 3]))
  task = getattr(model, "deepmac_task", None)
  options = option_builder.ProfileOptionBuilder.float_operation()
  options["output"] = "none"

  def count(fn):
    fn(preprocessed)  # variables
    graph = tf.function(fn).get_concrete_function(
        tf.TensorSpec(preprocessed.shape, tf.float32)).graph
    return model_analyzer.profile(graph, options=options).total_float_ops

  def predict(x):
    return [t for t in tf.nest.flatten(model.predict(x, shapes, training=False))
            if t.dtype.is_floating]

  print(f"FLOPS predict {count(predict)}", flush=True)
  if task is not None and args.train:
    boxes = tf.tile(tf.constant([[[0.2, 0.2, 0.6, 0.6]]]), [batch, 1, 1])

    def masks(x):
      predictions = model.predict(x, shapes, training=False)
      return [task.mask_logits_from_boxes(i, p, boxes)
              for i, p in task._stacks(predictions)]  # pylint: disable=protected-access

    print(f"FLOPS mask_per_box {(count(masks) - count(predict)) / batch:.0f}", flush=True)


def child_peaks(args):
  """Measured 3x3 convolution peaks (GFLOP/s) in float32 and bfloat16, best of 5 calls."""
  del args
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  for dtype in (tf.float32, tf.bfloat16):
    x = tf.cast(tf.random.normal([1, 128, 128, 256]), dtype)
    w = tf.cast(tf.random.normal([3, 3, 256, 256]) * 0.01, dtype)
    conv = tf.function(lambda x=x, w=w: tf.nn.conv2d(x, w, 1, "SAME"))
    float(tf.reduce_sum(tf.cast(conv(), tf.float32)))
    best = float("inf")
    for _ in range(5):
      start = time.perf_counter()
      float(tf.reduce_sum(tf.cast(conv(), tf.float32)))
      best = min(best, time.perf_counter() - start)
    print(f"PEAK {dtype.name} {2.0 * 128 * 128 * 9 * 256 * 256 / best / 1e9:.1f}", flush=True)


CHILDREN = {"train": child_train, "infer": child_infer, "flops": child_flops,
            "peaks": child_peaks}


def _child(kind, work, name, *flags):
  cmd = [sys.executable, os.path.abspath(__file__), "--_child", kind] + list(flags)
  return cmd, os.path.join(work, f"{name}.log")


# ---------------------------------------------------------------------------- measurements
def measure_peaks(work):
  cmd, log = _child("peaks", work, "peaks")
  result = _check(run_timed(cmd, _ours_env(), log, r"^PEAK (\w+) ([\d.]+)"), "peaks")
  return {dtype: float(value) for dtype, value in result["groups"]}


def measure_flops(work, config, size, train):
  """{"predict": forward FLOPs of predict, "mask_per_box": forward FLOPs per mask-head box}."""
  cmd, log = _child("flops", work, "flops_train" if train else "flops_infer", "--config",
                    config, "--size", str(size))
  if train:
    cmd.append("--train")
  result = _check(run_timed(cmd, _ours_env(), log, r"^FLOPS (\w+) ([\d.]+)"), "flops")
  return {name: float(value) for name, value in result["groups"]}


def mean_boxes_per_image(annotations_json, max_boxes):
  """Mean of min(instances, max_boxes) over the images of a COCO json (the real boxes the
  mask head sees per image, augmentation aside)."""
  with open(annotations_json, encoding="utf-8") as f:
    data = json.load(f)
  counts = {image["id"]: 0 for image in data["images"]}
  for annotation in data["annotations"]:
    counts[annotation["image_id"]] = counts.get(annotation["image_id"], 0) + 1
  return statistics.mean(min(c, max_boxes) for c in counts.values())


def train_reference(work, config, steps):
  model_dir = os.path.join(work, "model_reference")
  shutil.rmtree(model_dir, ignore_errors=True)
  cmd = _reference_cmd(["python", os.path.join(HARNESS, "train_ref.py"),
                        f"--pipeline_config_path={config}", f"--model_dir={model_dir}",
                        f"--num_train_steps={steps}", "--checkpoint_every_n=100000",
                        "--num_steps_per_iteration=1", "--log_every=1", "--alsologtostderr"])
  return _check(run_timed(cmd, _reference_env(), os.path.join(work, "train_reference.log"),
                          # tf_logging's line (absl repeats it with its own prefix)
                          r"^INFO:tensorflow:Step (\d+) per-step time ([\d.]+)s", cwd=work),
                "original train")


def train_ours(work, config, steps, bf16):
  name = "train_ours_bf16" if bf16 else "train_ours"
  model_dir = os.path.join(work, f"model_{name}")
  shutil.rmtree(model_dir, ignore_errors=True)
  cmd, log = _child("train", work, name, "--config", config, "--model_dir", model_dir,
                    "--steps", str(steps))
  if bf16:
    cmd.append("--bf16")
  return _check(run_timed(cmd, _ours_env(), log, r"^PROGRESS step (\d+)"), name)


def infer_reference(work, config, image, steps):
  cmd = _reference_cmd(["python", os.path.join(REPO, "benchmarks", "reference_infer_driver.py"),
                        config, image, "--steps", str(steps)])
  return _check(run_timed(cmd, _reference_env(), os.path.join(work, "infer_reference.log"),
                          r"^(FIRST|STEP) ([\d.]+)", cwd=work), "original inference")


def infer_ours(work, config, image, steps, bf16):
  name = "infer_ours_bf16" if bf16 else "infer_ours"
  cmd, log = _child("infer", work, name, "--config", config, "--image", image, "--steps",
                    str(steps))
  if bf16:
    cmd.append("--bf16")
  return _check(run_timed(cmd, _ours_env(), log, r"^(FIRST|STEP) ([\d.]+)"), name)


def _train_summary(result, warmup):
  steps = _step_times(result["launch_to"])[warmup:]
  if not steps:
    raise RuntimeError(f"{result['log']}: no timed steps (increase --steps)")
  return {"step_s": statistics.median(steps), "steps_s": steps,
          "launch_to_step1_s": result["launch_to"][0], "max_rss_mb": result["max_rss_mb"]}


def _infer_summary(result, warmup):
  times = [float(v) for kind, v in result["groups"] if kind == "STEP"][warmup:]
  first = [float(v) for kind, v in result["groups"] if kind == "FIRST"][0]
  return {"step_s": statistics.median(times), "steps_s": times, "first_call_s": first,
          "launch_to_step1_s": result["launch_to"][0], "max_rss_mb": result["max_rss_mb"]}


# -------------------------------------------------------------------------------- printing
def _fmt_s(value):
  return "-" if value is None else (f"{value:.3f} s" if value < 10 else f"{value:.1f} s")


def _row(name, ref, ours, key, flops=None, peak=None):
  """One markdown row; flops = (original's FLOPs per step, ours) or None."""
  ref_value = None if ref is None else ref[key]
  ours_value = ours[key]
  ratio = "-" if ref_value is None else f"{ours_value / ref_value:.2f}x"
  gflops = "-"
  if flops:
    parts = [] if ref_value is None else [f"{flops[0] / ref_value / 1e9:.0f}"]
    parts.append(f"{flops[1] / ours_value / 1e9:.0f}")
    gflops = " / ".join(parts) + f" (peak {peak:.0f})"
  rss_ref = "-" if ref is None else f"{ref['max_rss_mb'] / 1024:.2f}"
  rss = f"{rss_ref} / {ours['max_rss_mb'] / 1024:.2f} GiB"
  if ref is not None:
    rss += f" ({ours['max_rss_mb'] / ref['max_rss_mb']:.2f}x)"
  return (f"| {name} | {_fmt_s(ref_value)} | {_fmt_s(ours_value)} | {ratio} | {gflops} | "
          f"{rss} |")


HEADER = ("| workload | original | ours | ratio | GFLOP/s original / ours (measured peak) | "
          "peak RSS original / ours |\n|---|---|---|---|---|---|")


def run_workload(args):
  work = os.path.abspath(os.path.join(args.work_dir, args.workload))
  os.makedirs(work, exist_ok=True)
  use_reference = not args.no_reference and _reference_available()
  if not args.no_reference and not use_reference:
    print(f"reference harness not built under {REF}: measuring ours only", flush=True)
  peaks = measure_peaks(work)
  print(f"measured 3x3 conv peaks: fp32 {peaks['float32']:.0f} GFLOP/s, bf16 "
        f"{peaks['bfloat16']:.0f} GFLOP/s", flush=True)
  results = {"workload": args.workload, "peaks_gflops": peaks, "reference": use_reference}
  rows = []
  if args.workload in ("tiny_train", "deepmac512_train"):
    steps = args.steps + args.warmup + 1
    if args.workload == "tiny_train":
      config, size, label = prepare_tiny(work, use_reference), 128, "tiny DeepMAC train step"
      batch, slots = 4, 8
      annotations = os.path.join(work, "shapes", "annotations", "instances_train.json")
    else:
      config, size, label = (prepare_deepmac512(work, use_reference, steps), 512,
                             "DeepMAC 512 train step")
      batch, slots = 1, 100
      annotations = os.path.join(SHARED, "data", "coco_mini", "instances_train.json")
    forward = measure_flops(work, config, size, train=True)
    real = batch * mean_boxes_per_image(annotations, slots)
    # The original runs the mask head on every slot, ours on the real boxes (compaction.py).
    flops = (3.0 * (forward["predict"] + batch * slots * forward["mask_per_box"]),
             3.0 * (forward["predict"] + real * forward["mask_per_box"]))
    print(f"train-step FLOPs (3x forward): original {flops[0] / 1e9:.1f} G ({batch * slots} "
          f"mask-head boxes), ours {flops[1] / 1e9:.1f} G ({real:.1f} real boxes on average); "
          f"mask head {forward['mask_per_box'] / 1e9:.2f} GFLOP per box forward", flush=True)
    ref = (_train_summary(train_reference(work, config, steps), args.warmup)
           if use_reference else None)
    ours = _train_summary(train_ours(work, config, steps, bf16=False), args.warmup)
    results.update(train_flops=flops, forward_flops=forward, original=ref, ours=ours)
    rows.append(_row(f"{label}, fp32", ref, ours, "step_s", flops, peaks["float32"]))
    rows.append(_row(f"{label} first step (launch to step 1 done), fp32", ref, ours,
                     "launch_to_step1_s"))
    if not args.no_bf16:
      bf16 = _train_summary(train_ours(work, config, steps, bf16=True), args.warmup)
      results["ours_bf16"] = bf16
      rows.append(_row(f"{label}, ours bf16", ref, bf16, "step_s", flops, peaks["bfloat16"]))
      rows.append(_row(f"{label} first step, ours bf16", ref, bf16, "launch_to_step1_s"))
  else:
    config, image = prepare_hg104(work, use_reference)
    forward = measure_flops(work, config, 512, train=False)["predict"]
    flops = (forward, forward)
    steps = args.steps + args.warmup
    ref = (_infer_summary(infer_reference(work, config, image, steps), args.warmup)
           if use_reference else None)
    ours = _infer_summary(infer_ours(work, config, image, steps, bf16=False), args.warmup)
    results.update(forward_flops=flops, original=ref, ours=ours)
    rows.append(_row("CenterNet HG-104 512 inference, fp32", ref, ours, "step_s", flops,
                     peaks["float32"]))
    if not args.no_bf16:
      bf16 = _infer_summary(infer_ours(work, config, image, steps, bf16=True), args.warmup)
      results["ours_bf16"] = bf16
      rows.append(_row("CenterNet HG-104 512 inference, ours bf16", ref, bf16, "step_s", flops,
                       peaks["bfloat16"]))
  for side in ("original", "ours", "ours_bf16"):
    if results.get(side):
      times = ", ".join(f"{t:.3f}" for t in results[side]["steps_s"])
      print(f"{side}: timed step seconds [{times}]; launch to step 1 "
            f"{results[side]['launch_to_step1_s']:.1f} s", flush=True)
  print(HEADER)
  print("\n".join(rows))
  if args.json:
    with open(args.json, "w", encoding="utf-8") as f:
      json.dump(results, f, indent=1)
  return results


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("workload", nargs="?", choices=WORKLOADS)
  parser.add_argument("--steps", type=int, default=None,
                      help="timed steps (default: tiny 20, deepmac512 4, inference 5)")
  parser.add_argument("--warmup", type=int, default=None,
                      help="untimed steps after step 1 (default: tiny 5, others 1)")
  parser.add_argument("--work_dir", default="/tmp/deepmac_compare_reference")
  parser.add_argument("--no_reference", action="store_true", help="measure ours only")
  parser.add_argument("--no_bf16", action="store_true", help="skip our bfloat16 rows")
  parser.add_argument("--json", default=None, help="write the measurements here")
  parser.add_argument("--_child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
  parser.add_argument("--config", help=argparse.SUPPRESS)
  parser.add_argument("--model_dir", help=argparse.SUPPRESS)
  parser.add_argument("--image", help=argparse.SUPPRESS)
  parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
  parser.add_argument("--train", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args._child:  # pylint: disable=protected-access
    if args.steps is None:
      args.steps = 5
    return CHILDREN[args._child](args)  # pylint: disable=protected-access
  if args.workload is None:
    parser.error(f"give a workload: {', '.join(WORKLOADS)}")
  defaults = {"tiny_train": (20, 5), "deepmac512_train": (4, 1), "hg104_infer": (5, 1)}
  if args.steps is None:
    args.steps = defaults[args.workload][0]
  if args.warmup is None:
    args.warmup = defaults[args.workload][1]
  return run_workload(args)


if __name__ == "__main__":
  main()
