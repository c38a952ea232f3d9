"""CenterNet speed / memory benchmark: train step (tf.function vs XLA), inference, FLOP/s.

Full run (the paper's backbone; run it on a quiet machine, ideally with a GPU):
    .venv/bin/python benchmarks/center_net_benchmark.py                  # HG-104, 512x512, batch 1
    .venv/bin/python benchmarks/center_net_benchmark.py --mixed_bfloat16
Quick check (hourglass_10 with 8 channels, 128x128, 3 classes):
    .venv/bin/python benchmarks/center_net_benchmark.py --small

Prints one line per measurement and a final JSON dict. FLOPs are counted by TensorFlow's graph
profiler on the inference forward pass of `predict` (backbone + heads; 2 FLOPs per multiply-add,
convolutions dominate); a train step is counted as 3x the forward (forward + two backward
products), the usual estimate. The achieved GFLOP/s are shown next to a measured dense matmul
peak of the same device and dtype.
"""

import argparse
import json
import resource
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import center_net_builder
from object_detection.builders import image_resizer_builder
from object_detection.core import fields
from object_detection.meta_architectures.center_net import meta_arch
from object_detection.models import center_net_extractors
from object_detection.models import hourglass_network
from object_detection.protos import center_net_pb2

_CONFIG = """
num_classes: {num_classes}
feature_extractor {{
  type: "{extractor}" bgr_ordering: true
  channel_means: [104.01362025, 114.03422265, 119.9165958]
  channel_stds: [73.6027665, 69.89082075, 70.9150767]
}}
image_resizer {{ fixed_shape_resizer {{ height: {size} width: {size} }} }}
object_detection_task {{
  task_loss_weight: 1.0 offset_loss_weight: 1.0 scale_loss_weight: 0.1
  localization_loss {{ l1_localization_loss {{}} }}
}}
object_center_params {{
  object_center_loss_weight: 1.0 min_box_overlap_iou: 0.7 max_box_predictions: 100
  classification_loss {{ penalty_reduced_logistic_focal_loss {{ alpha: 2.0 beta: 4.0 }} }}
  {center_head}
}}
"""


def _parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--small", action="store_true",
                      help="hourglass_10 (8 channels), 128x128, 3 classes: a quick check")
  parser.add_argument("--mixed_bfloat16", action="store_true",
                      help="keras mixed_bfloat16 policy (float32 variables, bf16 compute)")
  parser.add_argument("--image_size", type=int, default=None, help="default 512 (128 small)")
  parser.add_argument("--batch_size", type=int, default=1)
  parser.add_argument("--num_boxes", type=int, default=20, help="ground-truth boxes per image")
  parser.add_argument("--steps", type=int, default=None, help="timed steps (default 10; 3 small)")
  parser.add_argument("--warmup", type=int, default=2, help="untimed steps after compilation")
  parser.add_argument("--skip_tf_function", action="store_true",
                      help="only time the XLA train step")
  return parser.parse_args(argv)


def _build_model(args):
  if args.small:
    fmt = dict(num_classes=3, extractor="hourglass_10", size=args.image_size,
               center_head="center_head_params { num_filters: [16] kernel_sizes: [3] }")
  else:
    fmt = dict(num_classes=90, extractor="hourglass_104", size=args.image_size, center_head="")
  config = text_format.Parse(_CONFIG.format(**fmt), center_net_pb2.CenterNet())
  if args.small:
    od = config.object_detection_task
    od.scale_head_params.num_filters.append(16)
    od.scale_head_params.kernel_sizes.append(3)
    od.offset_head_params.num_filters.append(16)
    od.offset_head_params.kernel_sizes.append(3)
  if args.small:  # an 8-channel hourglass_10 instead of the registered 32-channel one
    extractor = center_net_extractors.HourglassFeatureExtractor(
        hourglass_network.hourglass_10(8), channel_means=config.feature_extractor.channel_means,
        channel_stds=config.feature_extractor.channel_stds, bgr_ordering=True)
  else:
    extractor = center_net_builder.build_feature_extractor(config, is_training=True)
  tasks = center_net_builder.build_detection_tasks(
      config, is_training=True, num_outputs=extractor.num_feature_outputs)
  model = meta_arch.CenterNetMetaArch(
      config.num_classes, extractor, image_resizer_builder.build(config.image_resizer), tasks)
  return model, config.num_classes


def _synthetic_batch(args, num_classes):
  rng = np.random.default_rng(0)
  b, n, s = args.batch_size, args.num_boxes, args.image_size
  images = rng.uniform(0, 255, [b, s, s, 3]).astype(np.float32)
  yx = rng.uniform(0.0, 0.7, [b, n, 2])
  hw = rng.uniform(0.05, 0.3, [b, n, 2])
  boxes = np.concatenate([yx, yx + hw], axis=-1).astype(np.float32)
  classes = rng.integers(0, num_classes, [b, n])
  gt = {
      fields.InputDataFields.groundtruth_boxes: tf.constant(boxes),
      fields.InputDataFields.groundtruth_classes: tf.one_hot(classes, num_classes),
      fields.InputDataFields.groundtruth_weights: tf.ones([b, n]),
  }
  return tf.constant(images), gt


def _time(fn, steps, warmup):
  """(seconds of the first call incl. tracing/compilation, mean seconds per timed call)."""
  start = time.perf_counter()
  _block(fn())
  first = time.perf_counter() - start
  for _ in range(warmup):
    _block(fn())
  start = time.perf_counter()
  for _ in range(steps):
    out = fn()
  _block(out)
  return first, (time.perf_counter() - start) / steps


def _block(out):
  """Waits for the device by fetching one scalar of the result."""
  leaf = tf.nest.flatten(out)[0]
  return float(tf.reduce_sum(tf.cast(leaf, tf.float32)))


def _forward_flops(forward, spec):
  from tensorflow.python.profiler import model_analyzer  # pylint: disable=import-outside-toplevel
  from tensorflow.python.profiler import option_builder  # pylint: disable=import-outside-toplevel
  graph = tf.function(forward).get_concrete_function(spec).graph
  options = option_builder.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  return model_analyzer.profile(graph, options=options).total_float_ops


def _matmul_peak_gflops(n, dtype, steps=10):
  a = tf.random.normal([n, n], dtype=tf.float32)
  a = tf.cast(a, dtype)
  matmul = tf.function(lambda: tf.matmul(a, a))
  _, seconds = _time(matmul, steps, 2)
  return 2.0 * n ** 3 / seconds / 1e9


def _peak_memory():
  info = {"host_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
  if tf.config.list_physical_devices("GPU"):
    info["device_peak_mb"] = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 20
  return info


def main(argv=None):
  args = _parse_args(argv)
  if args.image_size is None:
    args.image_size = 128 if args.small else 512
  if args.steps is None:
    args.steps = 3 if args.small else 10
  if args.mixed_bfloat16:
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
  device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
  model, num_classes = _build_model(args)
  images, gt = _synthetic_batch(args, num_classes)
  preprocessed, true_shapes = model.preprocess(images)
  model.postprocess(model.predict(preprocessed, true_shapes), true_shapes)  # builds variables
  params = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
  optimizer = keras.optimizers.Adam(1e-4)
  results = {"device": device, "image_size": args.image_size, "batch_size": args.batch_size,
             "small": args.small, "mixed_bfloat16": args.mixed_bfloat16,
             "trainable_parameters": params}
  print(f"model: {'hourglass_10 (small)' if args.small else 'hourglass_104'}, "
        f"{params:,} trainable parameters, device {device}", flush=True)

  def train_step(preprocessed, true_shapes, gt):
    with tf.GradientTape() as tape:
      predictions = model.predict(preprocessed, true_shapes, training=True)
      total = tf.add_n(list(model.loss(predictions, true_shapes, gt).values()))
    grads = tape.gradient(total, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return total

  def inference(images):
    preprocessed, true_shapes = model.preprocess(images)
    predictions = model.predict(preprocessed, true_shapes, training=False)
    return model.postprocess(predictions, true_shapes)[
        fields.DetectionResultFields.detection_boxes]

  variants = [("xla", True)] if args.skip_tf_function else [("tf_function", False),
                                                             ("xla", True)]
  for name, jit in variants:
    step = tf.function(train_step, jit_compile=jit)
    first, seconds = _time(lambda step=step: step(preprocessed, true_shapes, gt),
                           args.steps, args.warmup)
    results[f"train_step_s_{name}"] = seconds
    results[f"train_first_call_s_{name}"] = first
    print(f"train step ({name}): {seconds:.4f} s/step (first call incl. compile {first:.1f} s)",
          flush=True)
  infer = tf.function(inference)
  first, seconds = _time(lambda: infer(images), args.steps, args.warmup)
  results["inference_s"] = seconds
  print(f"inference (tf.function, preprocess+predict+postprocess): {seconds:.4f} s/batch",
        flush=True)

  flops = _forward_flops(
      lambda x: tf.nest.flatten(model.predict(x, true_shapes, training=False)),
      tf.TensorSpec(preprocessed.shape, tf.float32))
  results["forward_gflop"] = flops / 1e9
  best_train = min(results[f"train_step_s_{name}"] for name, _ in variants)
  results["train_gflop_per_s"] = 3.0 * flops / best_train / 1e9
  results["inference_gflop_per_s"] = flops / seconds / 1e9
  n = 1024 if args.small else (8192 if device == "GPU" else 4096)
  results["matmul_peak_gflop_per_s_fp32"] = _matmul_peak_gflops(n, tf.float32)
  if args.mixed_bfloat16:
    results["matmul_peak_gflop_per_s_bf16"] = _matmul_peak_gflops(n, tf.bfloat16)
  results.update(_peak_memory())
  print(f"forward: {flops / 1e9:.3g} GFLOP (predict: backbone + heads, profiler count); achieved "
        f"{results['train_gflop_per_s']:.1f} GFLOP/s training (3x forward), "
        f"{results['inference_gflop_per_s']:.1f} GFLOP/s inference; fp32 matmul peak "
        f"{results['matmul_peak_gflop_per_s_fp32']:.1f} GFLOP/s ({n}x{n})", flush=True)
  print(json.dumps(results, indent=1, sort_keys=True))
  return results


if __name__ == "__main__":
  main(sys.argv[1:])
