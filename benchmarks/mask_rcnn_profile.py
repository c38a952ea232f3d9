r"""Mask R-CNN train step attributed by stage: each stage is timed on its own (forward, and
forward + backward), as a tf.function and under XLA, with the inputs it gets in a real step.

    .venv/bin/python benchmarks/mask_rcnn_profile.py                 # 640x640, batch 1
    .venv/bin/python benchmarks/mask_rcnn_profile.py --small         # 128x128 smoke check
    .venv/bin/python benchmarks/mask_rcnn_profile.py --modes tf --steps 5

The model is built from configs/tf2/mask_rcnn_resnet50_fpn_640x640_coco17_gpu-8.config (or
--config) with random weights, on the same random images and ground truth as
mask_rcnn_benchmark.py. A stage's backward pass is the gradient of <output, fixed random
cotangent> (or of its loss) with respect to its variables and its differentiable inputs, so
stage times add up to (about) the full step, which is timed last. Prints one line per stage
and mode (median seconds) and a final JSON dict. The mask-head stages are timed on all sampled
RoIs (second_stage_batch_size) and on the RoIs the training step feeds the mask head
(RoIHeads.num_mask_rois: the at most batch_size * positive_fraction positives).
"""

import argparse
import json
import pathlib
import sys
import time

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import mask_rcnn_benchmark as bench  # pylint: disable=wrong-import-position

from object_detection.meta_architectures.faster_rcnn import roi_features  # pylint: disable=wrong-import-position
from object_detection.ops import box_ops  # pylint: disable=wrong-import-position


def _median_seconds(fn, steps):
  def run():
    out = fn()
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
  run()  # trace / compile
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def _differentiable(values):
  return [v for v in tf.nest.flatten(values) if v.dtype.is_floating]


class Stage:
  """forward(*inputs) -> tensors; backward: gradient of sum(out * cotangent) (or of the scalar
  loss) with respect to `variables` and the floating inputs."""

  def __init__(self, name, forward, inputs, variables=()):
    self.name, self.forward, self.inputs, self.variables = name, forward, inputs, list(variables)
    out = forward(*inputs)
    rng = np.random.default_rng(0)
    self.cotangents = [None if o.shape.rank == 0 else
                       tf.constant(rng.normal(size=o.shape).astype(np.float32))
                       for o in _differentiable(out)]

  def forward_fn(self):
    return lambda: self.forward(*self.inputs)

  def backward_fn(self):
    def step():
      inputs = _differentiable(self.inputs)
      with tf.GradientTape() as tape:
        tape.watch(inputs)
        outs = _differentiable(self.forward(*self.inputs))
        total = tf.add_n([o if c is None else tf.reduce_sum(o * c)
                          for o, c in zip(outs, self.cotangents)])
      grads = tape.gradient(total, self.variables + inputs)
      return [g for g in grads if g is not None]
    return step


def _stages(model, images, shapes, gt):
  """The stages of one training step, with their real inputs (computed eagerly once)."""
  fe, gen, heads = model.feature_extractor, model.proposal_generator, model.roi_heads
  size = (images.shape[1], images.shape[2])
  windows = box_ops.true_image_windows(shapes, *size)
  maps = fe.extract_proposal_features(images, training=True)
  crop_maps = fe.features_to_crop(maps)
  pred = gen.predict(maps, size, windows, training=True)
  proposals, num, _ = gen.proposals(pred, windows)
  sampled, num_sampled = heads.sample(proposals, num, gt)
  source = roi_features.RoISource(crop_maps, fe.extract_box_classifier_features, size, True)
  head = heads.mask_head
  stages = [
      Stage("backbone+fpn", lambda x: fe.extract_proposal_features(x, training=True),
            [images], fe.trainable_variables),
      Stage("rpn_head", lambda *m: gen.rpn_head(list(m), training=True), maps,
            gen.rpn_head.trainable_variables),
      Stage("rpn_targets+loss", lambda e, o: gen.loss(
          {"rpn_box_encodings": e, "rpn_objectness_predictions_with_background": o,
           "anchors": pred["anchors"]}, gt),
            [pred["rpn_box_encodings"], pred["rpn_objectness_predictions_with_background"]]),
      Stage("proposals+sampling (no grad)", lambda e, o: heads.sample(*gen.proposals(
          {"rpn_box_encodings": e, "rpn_objectness_predictions_with_background": o,
           "anchors": pred["anchors"]}, windows)[:2], gt)[0] * 0.0,
            [pred["rpn_box_encodings"], pred["rpn_objectness_predictions_with_background"]]),
  ]
  crop = lambda *m: roi_features.box_classifier_features(  # pylint: disable=g-long-lambda
      roi_features.RoISource(list(m), lambda c, training: c, size, True), sampled,
      heads.crop_size, heads.maxpool_kernel_size, heads.maxpool_stride)
  crops = crop(*crop_maps)
  stages.append(Stage("box_crop_and_resize", crop, crop_maps))
  box_vars = [v for v in fe.trainable_variables if "box_classifier" in v.path or
              "fc6" in v.path or "fc7" in v.path] + heads.box_head.trainable_variables
  stages.append(Stage("box_classifier+box_head",
                      lambda c: heads.box_head(fe.extract_box_classifier_features(
                          c, training=True), training=True), [crops], box_vars))
  counts = {"all_sampled": sampled.shape[1], "mask_rois": heads.num_mask_rois}
  for label, n in counts.items():
    boxes = sampled[:, :n]
    align = lambda *m, boxes=boxes: roi_features.roi_align_features(  # pylint: disable=g-long-lambda
        roi_features.RoISource(list(m), None, size, True), boxes, head.roi_crop_size,
        heads.roi_align_sampling_ratio)
    stages.append(Stage(f"mask_roi_align[{label}={n}]", align, crop_maps))
    mask_crops = align(*crop_maps)
    stages.append(Stage(f"mask_head[{label}={n}]", lambda c: head(c, training=True),
                        [mask_crops], head.trainable_variables))
  del num_sampled
  return stages


def _ab_full_step(model, train_step, steps):
  """The tf.function train step with the mask head on the positive RoIs (A) and on every
  sampled RoI (B, the original), calls interleaved A B A B ... so that a changing machine
  load hits both alike. Returns {A, B: median seconds, B / A: ratio of medians}."""
  heads = model.roi_heads
  fns = {}
  for label, positives in (("positives", True), ("all_sampled", False)):
    heads.train_masks_on_positives_only = positives
    fns[label] = tf.function(train_step)
    fns[label]().numpy()  # trace with this setting
  heads.train_masks_on_positives_only = True
  times = {label: [] for label in fns}
  for _ in range(steps):
    for label, fn in fns.items():
      start = time.perf_counter()
      fn().numpy()
      times[label].append(time.perf_counter() - start)
  out = {label: round(float(np.median(t)), 4) for label, t in times.items()}
  out["all_sampled / positives"] = round(out["all_sampled"] / out["positives"], 3)
  out["samples"] = {label: [round(t, 3) for t in v] for label, v in times.items()}
  print(f"A/B full train step (tf.function, interleaved x{steps}): {out}", flush=True)
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default=str(bench._DEFAULT_CONFIG))  # pylint: disable=protected-access
  parser.add_argument("--batch_size", type=int, default=1)
  parser.add_argument("--steps", type=int, default=3, help="timed calls per measurement")
  parser.add_argument("--small", action="store_true", help="128x128 smoke check")
  parser.add_argument("--modes", default="tf,xla")
  parser.add_argument("--skip_full_step", action="store_true")
  parser.add_argument("--skip_stages", action="store_true")
  parser.add_argument("--ab_steps", type=int, default=0,
                      help="also time the full step with the mask head on the positive RoIs vs "
                           "on every sampled RoI, interleaved, this many times each")
  args = parser.parse_args(argv)
  model, images, shapes, gt = bench.build_model_and_inputs(args.config, args.small,
                                                           args.batch_size)
  model.postprocess(model.predict(images, shapes), shapes)
  stages = [] if args.skip_stages else _stages(model, images, shapes, gt)
  optimizer = keras.optimizers.SGD(1e-3, momentum=0.9)
  optimizer.build(model.trainable_variables)
  train_step = bench.train_step_fn(model, optimizer, images, shapes, gt)

  results = {"image": list(images.shape[1:3]), "batch_size": args.batch_size,
             "mask_rois": model.roi_heads.num_mask_rois, "stages": {}}
  if args.ab_steps:
    results["ab_full_train_step_s"] = _ab_full_step(model, train_step, args.ab_steps)
  for mode in args.modes.split(","):
    jit = mode == "xla"
    for stage in stages:
      fwd = _median_seconds(tf.function(stage.forward_fn(), jit_compile=jit), args.steps)
      both = _median_seconds(tf.function(stage.backward_fn(), jit_compile=jit), args.steps)
      results["stages"].setdefault(stage.name, {})[mode] = {
          "forward_s": round(fwd, 4), "forward_backward_s": round(both, 4)}
      print(f"{mode:4s} {stage.name:38s} forward {fwd:8.3f} s   forward+backward {both:8.3f} s",
            flush=True)
    if not args.skip_full_step:
      full = _median_seconds(tf.function(train_step, jit_compile=jit), args.steps)
      results.setdefault("full_train_step_s", {})[mode] = round(full, 4)
      print(f"{mode:4s} {'full train step':38s} {full:8.3f} s", flush=True)
  print(json.dumps(results))
  return results


if __name__ == "__main__":
  sys.exit(0 if main() else 1)
