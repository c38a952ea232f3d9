"""(Runs under the ORIGINAL's venv: `source ../shared/reference/harness/env.sh` first.)

Builds the original Object Detection API's model from CONFIG with random weights, runs it on
images, and saves what a parity check needs:
  OUT/checkpoint/ckpt-0.*      tf.train.Checkpoint(model=model), as exporter_main_v2.py saves it
  OUT/pipeline.config          the config (PATH_TO_BE_CONFIGURED quoted so that it parses)
  OUT/outputs.npz              images (uint8 [N,H,W,3]) and every postprocess output, float32,
                               with detection_classes + 1 (as the original's exporter returns them)
  OUT/variables.tsv            name, shape, dtype of every checkpoint entry
  OUT/layers.tsv               for Keras functional models: `path/layer_with_weights-K -> layer name`
  OUT/timing.json              build / first / second inference seconds, parameter count

Weights: Keras initialisers (seeded), then batch-norm statistics and gammas/betas are drawn at
random as well (gamma in [0.5, 1], beta and moving mean N(0, 0.1), moving variance in [0.5, 1.5])
so that a converted model that swaps two of them cannot agree by accident.

    python benchmarks/reference/ref_random_model.py CONFIG OUT [--images NPZ_OR_GLOB] [--size S]
        [--max_images N] [--seed 0]

--size overrides keep_aspect_ratio_resizer min/max (and fixed_shape_resizer) for a cheaper run.
"""

import argparse
import glob
import json
import os
import tempfile
import time

import numpy as np
import tensorflow as tf
from PIL import Image

from object_detection.builders import model_builder
from object_detection.utils import config_util


def _load_config(path, size):
  text = open(path).read().replace(": PATH_TO_BE_CONFIGURED", ': "PATH_TO_BE_CONFIGURED')
  text = "\n".join(line + '"' if ': "PATH_TO_BE_CONFIGURED' in line and line.count('"') == 1
                   else line for line in text.splitlines())
  fixed = os.path.join(tempfile.mkdtemp(), os.path.basename(path))
  with open(fixed, "w") as f:
    f.write(text)
  configs = config_util.get_configs_from_pipeline_file(fixed)
  model_config = configs["model"]
  arch = getattr(model_config, model_config.WhichOneof("model"))
  if size:
    resizer = arch.image_resizer
    if resizer.HasField("keep_aspect_ratio_resizer"):
      resizer.keep_aspect_ratio_resizer.min_dimension = size
      resizer.keep_aspect_ratio_resizer.max_dimension = size
    elif resizer.HasField("fixed_shape_resizer"):
      resizer.fixed_shape_resizer.height = size
      resizer.fixed_shape_resizer.width = size
  return configs, fixed


def _images(spec, max_images):
  if spec.endswith(".npz"):
    images = np.load(spec)["images"]
    return [images[i] for i in range(min(len(images), max_images))]
  paths = sorted(glob.glob(spec))[:max_images]
  return [np.array(Image.open(p).convert("RGB")) for p in paths]


def _randomize(model, seed):
  rng = np.random.default_rng(seed)
  for var in model.variables:
    name = var.name
    shape = var.shape.as_list()
    if "moving_variance" in name:
      var.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
    elif "moving_mean" in name or "beta" in name:
      var.assign(rng.normal(0.0, 0.1, shape).astype(np.float32))
    elif "gamma" in name:
      var.assign(rng.uniform(0.5, 1.0, shape).astype(np.float32))


def _functional_layers(model):
  """Rows `path/layer_with_weights-K<TAB>layer name` for every Keras functional model inside."""
  rows, seen = [], set()

  def visit(obj, path, depth):
    if id(obj) in seen or depth > 12:
      return
    seen.add(id(obj))
    if isinstance(obj, tf.keras.Model) and hasattr(obj, "_is_graph_network") and \
        obj._is_graph_network:  # pylint: disable=protected-access
      with_weights = [l for l in obj.layers if l.weights]
      for k, layer in enumerate(with_weights):
        rows.append(f"{path}/layer_with_weights-{k}\t{layer.name}\t{type(layer).__name__}")
    for name, child in vars(obj).items():
      if isinstance(child, tf.Module):
        visit(child, f"{path}/{name}", depth + 1)
      elif isinstance(child, (list, tuple)):
        for i, item in enumerate(child):
          if isinstance(item, tf.Module):
            visit(item, f"{path}/{name}/{i}", depth + 1)
      elif isinstance(child, dict):
        for key, item in child.items():
          if isinstance(item, (list, tuple)):
            for i, sub in enumerate(item):
              if isinstance(sub, tf.Module):
                visit(sub, f"{path}/{name}/{key}/{i}", depth + 1)
          elif isinstance(item, tf.Module):
            visit(item, f"{path}/{name}/{key}", depth + 1)

  visit(model, "model", 0)
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
  parser.add_argument("config")
  parser.add_argument("out")
  parser.add_argument("--images", default="")
  parser.add_argument("--size", type=int, default=0)
  parser.add_argument("--max_images", type=int, default=2)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()

  tf.keras.utils.set_random_seed(args.seed)
  configs, _ = _load_config(args.config, args.size)
  os.makedirs(args.out, exist_ok=True)
  config_util.save_pipeline_config(config_util.create_pipeline_proto_from_configs(configs),
                                   args.out)
  start = time.perf_counter()
  model = model_builder.build(configs["model"], is_training=False)
  images = _images(args.images, args.max_images) if args.images else [
      np.random.default_rng(args.seed).integers(0, 256, (args.size or 128, args.size or 128, 3),
                                                dtype=np.uint8)]

  @tf.function
  def infer(image):
    preprocessed, shapes = model.preprocess(tf.cast(image, tf.float32)[None])
    return model.postprocess(model.predict(preprocessed, shapes), shapes)

  infer(tf.constant(images[0]))  # creates the variables
  build_s = time.perf_counter() - start
  _randomize(model, args.seed)
  outputs, times = [], []
  for image in images:
    t0 = time.perf_counter()
    out = infer(tf.constant(image))
    outputs.append({k: np.asarray(v, np.float32) for k, v in out.items()})
    times.append(time.perf_counter() - t0)
  keys = sorted(set(outputs[0]).intersection(*outputs[1:]))
  arrays = {}
  for k in keys:
    shapes = {o[k].shape[1:] for o in outputs}
    if len(shapes) == 1:
      arrays[k] = np.concatenate([o[k] for o in outputs])
  if "detection_classes" in arrays:
    arrays["detection_classes"] = arrays["detection_classes"] + 1.0
  shapes_ok = {im.shape for im in images}
  if len(shapes_ok) == 1:
    arrays["images"] = np.stack(images)
  else:
    for i, im in enumerate(images):
      arrays[f"image_{i}"] = im
  np.savez_compressed(os.path.join(args.out, "outputs.npz"), **arrays)

  ckpt_dir = os.path.join(args.out, "checkpoint")
  path = tf.train.Checkpoint(model=model).save(os.path.join(ckpt_dir, "ckpt"))
  reader = tf.train.load_checkpoint(path)
  dtypes = reader.get_variable_to_dtype_map()
  with open(os.path.join(args.out, "variables.tsv"), "w") as f:
    f.write("name\tshape\tdtype\n")
    for name, shape in tf.train.list_variables(path):
      f.write(f"{name}\t{shape}\t{dtypes[name].name}\n")
  with open(os.path.join(args.out, "layers.tsv"), "w") as f:
    f.write("\n".join(_functional_layers(model)) + "\n")
  params = int(sum(np.prod(v.shape) for v in model.variables))
  trainable = int(sum(np.prod(v.shape) for v in model.trainable_variables))
  info = {"config": os.path.basename(args.config), "build_and_first_s": round(build_s, 2),
          "inference_s": [round(t, 3) for t in times], "variables": params,
          "trainable": trainable, "checkpoint": path}
  with open(os.path.join(args.out, "timing.json"), "w") as f:
    json.dump(info, f, indent=1)
  print(json.dumps(info))


if __name__ == "__main__":
  main()
