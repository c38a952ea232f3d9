"""Whole-model parity with the original on random weights (our venv; after ref_random_model.py).

    # 1. under the ORIGINAL's venv (source ../shared/reference/harness/env.sh):
    python benchmarks/reference/ref_random_model.py CONFIG /tmp/ref/NAME --images IMAGES [--size S]
    # 2. here:
    python benchmarks/reference/compare_with_reference.py /tmp/ref/NAME [--json OUT.json]

Builds our model from /tmp/ref/NAME/pipeline.config (the effective config the original ran),
restores the original's random-weight checkpoint through the conversion name maps (no copy on
disk), runs it on the same images and prints, per output, the max absolute difference from the
original's outputs.npz (detections matched one to one on class and box when scores tie), the
conversion counts and the time and peak memory of each phase.
"""

import argparse
import json
import resource
import time

import numpy as np
import tensorflow as tf

from object_detection.builders import model_builder
from object_detection.config import loader
from object_detection.conversion import restore
from object_detection.export import signatures


def _images(arrays):
  if "images" in arrays:
    return [arrays["images"][i] for i in range(len(arrays["images"]))]
  return [arrays[k] for k in sorted(k for k in arrays if k.startswith("image_"))]


def _order(ours, theirs):
  """Index into ours for each of theirs: same class, nearest box (scores may tie)."""
  order, free = [], list(range(len(theirs["detection_scores"])))
  for i in range(len(theirs["detection_scores"])):
    cost = [(np.abs(ours["detection_boxes"][j] - theirs["detection_boxes"][i]).max() +
             abs(ours["detection_scores"][j] - theirs["detection_scores"][i]) +
             (0 if ours["detection_classes"][j] == theirs["detection_classes"][i] else 10), j)
            for j in free]
    best = min(cost)[1]
    order.append(best)
    free.remove(best)
  return np.array(order)


def compare(ref_dir):
  """Returns a dict of measurements (see the module docstring)."""
  arrays = dict(np.load(f"{ref_dir}/outputs.npz"))
  t0 = time.perf_counter()
  pipeline = loader.load_pipeline_config(f"{ref_dir}/pipeline.config")
  model = model_builder.build(pipeline.model, is_training=False)
  images = _images(arrays)
  module = signatures.DetectionModule(model)
  module._detect(tf.constant(images[0][None], tf.float32))  # pylint: disable=protected-access
  t1 = time.perf_counter()
  plan = restore.restore_original(model, f"{ref_dir}/checkpoint", allow_partial=True)
  t2 = time.perf_counter()
  outs = [{k: v.numpy()[0] for k, v in module._detect(  # pylint: disable=protected-access
      tf.constant(image[None], tf.float32)).items()} for image in images]
  t3 = time.perf_counter()
  diffs = {}
  for i, out in enumerate(outs):
    theirs = {k: arrays[k][i] for k in arrays if k in out}
    order = _order(out, theirs) if "detection_scores" in theirs else None
    for key, value in theirs.items():
      mine = out[key]
      if order is not None and mine.ndim >= 1 and mine.shape[:1] == order.shape:
        mine = mine[order]
      if mine.shape != value.shape:
        diffs[key] = f"shape {list(mine.shape)} vs {list(value.shape)}"
        continue
      diff = float(np.abs(mine.astype(np.float64) - value).max()) if value.size else 0.0
      diffs[key] = max(diffs.get(key, 0.0), diff) if not isinstance(diffs.get(key), str) else \
          diffs[key]
  return {
      "reference": ref_dir, "mapped": len(plan.pairs), "of": plan.num_original,
      "complete": plan.complete, "report": plan.summary() if not plan.complete else "",
      "max_abs_diff": diffs, "images": [list(im.shape) for im in images],
      "seconds": {"build": round(t1 - t0, 2), "restore": round(t2 - t1, 2),
                  "inference": round(t3 - t2, 2)},
      "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("ref_dir")
  parser.add_argument("--json", default="")
  args = parser.parse_args()
  result = compare(args.ref_dir)
  print(json.dumps(result, indent=1))
  if args.json:
    with open(args.json, "w", encoding="utf-8") as f:
      json.dump(result, f, indent=1)


if __name__ == "__main__":
  main()
