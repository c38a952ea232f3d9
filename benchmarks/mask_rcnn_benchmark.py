r"""Mask R-CNN (ResNet-50 FPN) speed benchmark: train-step and inference seconds, XLA on / off.

Full run (640x640, batch 2, the shipped config; run it on a GPU, not in CI):
    .venv/bin/python benchmarks/mask_rcnn_benchmark.py
    .venv/bin/python benchmarks/mask_rcnn_benchmark.py --batch_size 8 --steps 20
    .venv/bin/python benchmarks/mask_rcnn_benchmark.py --mask_rois all   # masks on all RoIs
Quick check (same architecture at 128x128, 16 proposals, 3 classes, 2 timed steps):
    .venv/bin/python benchmarks/mask_rcnn_benchmark.py --small

The model is built from configs/tf2/mask_rcnn_resnet50_fpn_640x640_coco17_gpu-8.config (or
--config) with random weights; inputs are random images with 4 random boxes and masks each.
A train step = predict(training) + loss + gradients + SGD update; inference = predict +
postprocess. Each mode is compiled once (the first call, reported as compile seconds), then
timed over --steps calls. Prints one line per measurement and a final JSON dict.
"""

import argparse
import json
import pathlib
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from object_detection.builders import model_builder
from object_detection.config import loader
from object_detection.core import fields

F = fields.InputDataFields
_DEFAULT_CONFIG = (pathlib.Path(__file__).resolve().parent.parent / "configs" / "tf2" /
                   "mask_rcnn_resnet50_fpn_640x640_coco17_gpu-8.config")
_SMALL_OVERRIDES = [
    "model.faster_rcnn.num_classes=3",
    "model.faster_rcnn.image_resizer.keep_aspect_ratio_resizer.min_dimension=128",
    "model.faster_rcnn.image_resizer.keep_aspect_ratio_resizer.max_dimension=128",
    "model.faster_rcnn.first_stage_max_proposals=16",
    "model.faster_rcnn.second_stage_batch_size=8",
    "model.faster_rcnn.second_stage_post_processing.batch_non_max_suppression"
    ".max_detections_per_class=8",
    "model.faster_rcnn.second_stage_post_processing.batch_non_max_suppression"
    ".max_total_detections=8",
]


def _groundtruth(batch, height, width, num_classes, seed=0):
  rng = np.random.default_rng(seed)
  n = 4
  ymin = rng.uniform(0.0, 0.6, [batch, n])
  xmin = rng.uniform(0.0, 0.6, [batch, n])
  boxes = np.stack([ymin, xmin, ymin + 0.3, xmin + 0.35], -1).astype(np.float32)
  masks = np.zeros([batch, n, height, width], np.uint8)
  for b in range(batch):
    for i in range(n):
      y0, x0, y1, x1 = (boxes[b, i] * [height, width, height, width]).astype(int)
      masks[b, i, y0:y1, x0:x1] = 1
  classes = np.eye(num_classes, dtype=np.float32)[rng.integers(0, num_classes, [batch, n])]
  return {F.groundtruth_boxes: tf.constant(boxes), F.groundtruth_classes: tf.constant(classes),
          F.groundtruth_weights: tf.ones([batch, n]), F.groundtruth_instance_masks: tf.constant(masks)}


def build_model_and_inputs(config, small, batch_size):
  """The benchmarked model (random weights, seed 0) and one random batch, preprocessed.

  Args:
    config: str, pipeline.config path.
    small: bool, apply _SMALL_OVERRIDES (128x128 smoke check).
    batch_size: int.

  Returns:
    (model, images [B, H, W, 3] float32 preprocessed, shapes [B, 3] int32 true image shapes,
    gt: dict of ground truth from _groundtruth).
  """
  overrides = _SMALL_OVERRIDES if small else None
  pipeline = loader.load_pipeline_config(config, overrides=overrides)
  keras.utils.set_random_seed(0)
  model = model_builder.build(pipeline.model, is_training=True)
  raw = tf.random.uniform([batch_size, 480, 640, 3], 0, 255, seed=1)
  images, shapes = model.preprocess(raw)
  gt = _groundtruth(batch_size, images.shape[1], images.shape[2], model.num_classes)
  return model, images, shapes, gt


def train_step_fn(model, optimizer, images, shapes, gt):
  """A train step on the fixed batch: predict(training) + loss + gradients + optimizer update.

  Returns:
    callable () -> [] float32 total loss (wrap it in tf.function to time it).
  """
  def train_step():
    with tf.GradientTape() as tape:
      losses = model.loss(model.predict(images, shapes, gt, training=True), shapes, gt)
      total = tf.add_n(list(losses.values()))
    grads = tape.gradient(total, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return total
  return train_step


def _time(fn, steps):
  start = time.perf_counter()
  out = fn()
  tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
  compile_s = time.perf_counter() - start
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    out = fn()
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
    times.append(time.perf_counter() - start)
  return compile_s, float(np.median(times))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default=str(_DEFAULT_CONFIG))
  parser.add_argument("--batch_size", type=int, default=2)
  parser.add_argument("--steps", type=int, default=10, help="timed calls per mode")
  parser.add_argument("--small", action="store_true", help="128x128 smoke check")
  parser.add_argument("--modes", default="train,train_xla,infer,infer_xla")
  parser.add_argument("--mask_rois", choices=("positives", "all"), default="positives",
                      help="train the mask head on the positive sampled RoIs (default) or on "
                           "every sampled RoI (the original; the step before this option)")
  args = parser.parse_args(argv)
  steps = 2 if args.small else args.steps
  model, images, shapes, gt = build_model_and_inputs(args.config, args.small, args.batch_size)
  model.roi_heads.train_masks_on_positives_only = args.mask_rois == "positives"
  height, width = images.shape[1], images.shape[2]
  optimizer = keras.optimizers.SGD(1e-3, momentum=0.9)
  train_step = train_step_fn(model, optimizer, images, shapes, gt)

  def infer():
    return model.postprocess(model.predict(images, shapes), shapes)

  # Build every variable (and the optimizer slots) before compiling.
  infer()
  optimizer.build(model.trainable_variables)
  fns = {"train": tf.function(train_step), "train_xla": tf.function(train_step, jit_compile=True),
         "infer": tf.function(infer), "infer_xla": tf.function(infer, jit_compile=True)}
  device = tf.config.list_logical_devices("GPU")
  results = {"config": pathlib.Path(args.config).name, "small": args.small,
             "mask_rois": args.mask_rois,
             "batch_size": args.batch_size, "image": [int(height), int(width)],
             "device": device[0].name if device else "CPU",
             "trainable_parameters": int(sum(np.prod(v.shape) for v in model.trainable_weights))}
  for mode in args.modes.split(","):
    compile_s, step_s = _time(fns[mode], steps)
    results[mode] = {"first_call_s": round(compile_s, 3), "median_s": round(step_s, 4)}
    print(f"{mode:10s} first call {compile_s:8.2f} s   median {step_s:8.4f} s/step "
          f"({args.batch_size / step_s:.2f} images/s)", flush=True)
  print(json.dumps(results))
  return results


if __name__ == "__main__":
  sys.exit(0 if main() else 1)
