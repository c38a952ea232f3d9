"""Inference speed of the deployment runtimes on CPU: TensorFlow (SavedModel) vs ONNX Runtime vs
LiteRT, on the same exported DeepMAC model (random weights).

Full run (the paper's 512 model: HG-104 backbone, hourglass52 mask head, 100 detections):
    .venv/bin/python benchmarks/deploy_runtime_benchmark.py
    flock /tmp/heavy.lock .venv/bin/python benchmarks/deploy_runtime_benchmark.py   # shared box
Quick check (the CPU demo config: hourglass_10 backbone and mask head, 128x128):
    .venv/bin/python benchmarks/deploy_runtime_benchmark.py --small
CenterNet HG-104 alone (the issue's ONNX Runtime vs TF row):
    .venv/bin/python benchmarks/deploy_runtime_benchmark.py --skip litert \
        --config configs/tf2/centernet_hourglass104_512x512_coco17_tpu-8.config
Memory: tf2onnx runs in a child process with large-model freezing and the pure-Python protobuf
runtime (onnx_export.py); its peak RSS is printed (about 5 GB for HG-104's 0.77 GB of weights;
before, 20 GB and killed).

Steps: build the config's model (seeded random weights), export the image_tensor SavedModel
(exporter_lib.export_model), convert it to ONNX (tf2onnx, opset 17) and LiteRT (float32, plus
the --tflite_quantization variants), then time `--rounds` rounds in which every runtime runs the
same image once, in turn (interleaved, so a machine that is busy with other work slows every
runtime alike and the ratios stay meaningful). Every runtime gets --threads intra-op threads.
Prints one line per measurement and a final JSON dict (median seconds per image, ratio to
TensorFlow, conversion times, file sizes, the largest output difference to TensorFlow: an
element-wise difference, so quantized variants whose near-tied detections swap places show a
large one).
"""

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, "configs", "tf2")


def _parse_args(argv):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--small", action="store_true",
                 help="center_net_deepmac_hourglass10_128x128_shapes_cpu.config at 128x128")
  p.add_argument("--config", default=None,
                 help="pipeline config (default: center_net_deepmac_512x512_voc_only_tpu-32)")
  p.add_argument("--image_size", type=int, default=None, help="default 512 (128 with --small)")
  p.add_argument("--rounds", type=int, default=5, help="timed rounds (each runtime once each)")
  p.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
  p.add_argument("--threads", type=int, default=os.cpu_count(),
                 help="intra-op threads for every runtime")
  p.add_argument("--tflite_quantization", default="none",
                 help="comma list of LiteRT variants to time: none, float16, dynamic_range")
  p.add_argument("--skip", default="", help="comma list of runtimes not to time: onnx, litert")
  p.add_argument("--work_dir", default=None, help="where the exports go (default: a temp dir)")
  p.add_argument("--image", default=None,
                 help="photo to time on (default: the first ../shared COCO photo, else noise)")
  return p.parse_args(argv)


def _image(args):
  """[1, S, S, 3] uint8: --image (or the first ../shared COCO photo) resized, else noise. On a
  photo, near-tied detections of random weights are rare, so output differences mean something;
  on noise they swap places and the element-wise difference is large."""
  path = args.image
  if path is None:
    photos = os.path.join(REPO, os.pardir, "shared", "data", "coco_mini", "images")
    if os.path.isdir(photos):
      path = os.path.join(photos, sorted(os.listdir(photos))[0])
  if path is None:
    return np.random.default_rng(0).integers(0, 256, (1, args.image_size, args.image_size, 3),
                                             dtype=np.uint8)
  from PIL import Image  # pylint: disable=import-outside-toplevel
  photo = Image.open(path).convert("RGB").resize((args.image_size, args.image_size))
  print(f"image: {path}")
  return np.asarray(photo)[None]


def _peak_rss_gb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _build_and_export(args, work_dir):
  import keras  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from object_detection.builders import model_builder  # pylint: disable=import-outside-toplevel
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  from object_detection.export import exporter_lib  # pylint: disable=import-outside-toplevel
  size = args.image_size
  resizer = "model.center_net.image_resizer.fixed_shape_resizer" if args.small else (
      "model.center_net.image_resizer.keep_aspect_ratio_resizer")
  overrides = ([f"{resizer}.height={size}", f"{resizer}.width={size}"] if args.small else
               [f"{resizer}.min_dimension={size}", f"{resizer}.max_dimension={size}"])
  keras.utils.set_random_seed(0)
  pipeline = loader.load_pipeline_config(args.config, overrides=overrides)
  model = model_builder.build(pipeline.model, is_training=False)
  model.build_variables()
  params = sum(int(np.prod(v.shape)) for v in model.variables)
  print(f"model: {os.path.basename(args.config)} at {size}x{size}, {params / 1e6:.1f}M "
        f"parameters")
  start = time.perf_counter()
  exporter_lib.export_model(model, work_dir, "image_tensor")
  print(f"export SavedModel: {time.perf_counter() - start:.1f} s")
  return params


def _convert(args, work_dir, skip):
  from object_detection.export import litert_export  # pylint: disable=import-outside-toplevel
  from object_detection.export import onnx_export  # pylint: disable=import-outside-toplevel
  saved_model = os.path.join(work_dir, "saved_model")
  report = {}
  if "onnx" not in skip:
    start = time.perf_counter()
    path = os.path.join(work_dir, "model.onnx")
    onnx_export.convert_saved_model(saved_model, path)
    report["onnx"] = {"convert_s": time.perf_counter() - start,
                      "file_mb": os.path.getsize(path) / 1e6,
                      # the converter runs in a child process (onnx_export): its peak
                      "convert_peak_rss_gb": resource.getrusage(
                          resource.RUSAGE_CHILDREN).ru_maxrss / 1e6}
    print(f"convert onnx: {report['onnx']['convert_s']:.1f} s, "
          f"{report['onnx']['file_mb']:.1f} MB, converter peak RSS "
          f"{report['onnx']['convert_peak_rss_gb']:.1f} GB")
  if "litert" not in skip:
    for q in args.tflite_quantization.split(","):
      start = time.perf_counter()
      path = os.path.join(work_dir, litert_export.file_name(q))
      litert_export.convert_saved_model(saved_model, path, q, ["serving_default"])
      name = "litert" if q == "none" else f"litert_{q}"
      report[name] = {"convert_s": time.perf_counter() - start,
                      "file_mb": os.path.getsize(path) / 1e6}
      print(f"convert {name}: {report[name]['convert_s']:.1f} s, "
            f"{report[name]['file_mb']:.1f} MB")
  return report


def _runners(args, work_dir, names):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from object_detection.export import litert_export  # pylint: disable=import-outside-toplevel
  from object_detection.export import onnx_export  # pylint: disable=import-outside-toplevel
  loaded = tf.saved_model.load(os.path.join(work_dir, "saved_model"))
  serving = loaded.signatures["serving_default"]
  runners = {"tensorflow": lambda image: {
      k: v.numpy() for k, v in serving(input_tensor=tf.constant(image)).items()}}
  for name in names:
    if name == "onnx":
      onnx = onnx_export.OnnxRunner(os.path.join(work_dir, "model.onnx"), args.threads)
      runners["onnx"] = lambda image, r=onnx: r(input_tensor=image)
    elif name.startswith("litert"):
      q = name[len("litert_"):] if "_" in name else "none"
      lite = litert_export.LiteRTRunner(os.path.join(work_dir, litert_export.file_name(q)),
                                        args.threads)
      runners[name] = lambda image, r=lite: r("serving_default", input_tensor=image)
  return loaded, runners


def main(argv=None):
  args = _parse_args(argv)
  if args.config is None:
    name = ("center_net_deepmac_hourglass10_128x128_shapes_cpu.config" if args.small else
            "center_net_deepmac_512x512_voc_only_tpu-32.config")
    args.config = os.path.join(CONFIGS, name)
  args.image_size = args.image_size or (128 if args.small else 512)
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  skip = {s for s in args.skip.split(",") if s}
  work_dir = args.work_dir or tempfile.mkdtemp(prefix="deploy_bench_")
  params = _build_and_export(args, work_dir)
  conversions = _convert(args, work_dir, skip)
  _, runners = _runners(args, work_dir, sorted(conversions))
  image = _image(args)
  times = {name: [] for name in runners}
  outputs = {}
  for round_index in range(args.warmup + args.rounds):
    this_round = {}
    for name, run in runners.items():
      start = time.perf_counter()
      outputs[name] = run(image)
      this_round[name] = time.perf_counter() - start
      if round_index >= args.warmup:
        times[name].append(this_round[name])
    print(f"round {round_index}{' (warmup)' if round_index < args.warmup else ''}: " +
          ", ".join(f"{n} {t:.3f} s" for n, t in this_round.items()))
  ref = outputs["tensorflow"]
  summary = {"config": os.path.basename(args.config), "image_size": args.image_size,
             "parameters_m": round(params / 1e6, 2), "threads": args.threads,
             "rounds": args.rounds, "load_average_at_start": os.getloadavg()[0], "runtimes": {}}
  tf_median = statistics.median(times["tensorflow"])
  for name, values in times.items():
    median = statistics.median(values)
    diff = max(float(np.abs(outputs[name][k] - ref[k]).max()) for k in ref)
    summary["runtimes"][name] = {"median_s": round(median, 4), "min_s": round(min(values), 4),
                                 "speedup_vs_tensorflow": round(tf_median / median, 3),
                                 "max_abs_diff_vs_tensorflow": diff,
                                 **{k: round(v, 2) for k, v in conversions.get(name, {}).items()}}
    print(f"{name}: median {median:.3f} s/image (min {min(values):.3f}), "
          f"{tf_median / median:.2f}x TensorFlow's speed, max |output - TF| {diff:.2e}")
  summary["peak_rss_gb"] = round(_peak_rss_gb(), 2)
  print(json.dumps(summary))
  return 0


if __name__ == "__main__":
  sys.exit(main())
