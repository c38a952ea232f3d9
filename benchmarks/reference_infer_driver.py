"""Times the ORIGINAL Object Detection API's inference on one image (run by compare_reference.py).

Runs under the reference harness's interpreter (`source ../shared/reference/harness/env.sh`),
never with this repository on the path: `object_detection` here is the original package.
Builds the model of CONFIG with random weights (model_builder, is_training=False), wraps
preprocess -> predict -> postprocess in one tf.function, and calls it on IMAGE (uint8
[1, H, W, 3], float32 input as the original's exporter feeds it).

  python benchmarks/reference_infer_driver.py CONFIG IMAGE --steps 5 [--mixed_bfloat16]

Prints `FIRST <s>` (trace + first run) and one `STEP <s>` line per timed call.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from PIL import Image


def _load_model_config(path):
  from object_detection.utils import config_util  # pylint: disable=import-outside-toplevel
  with open(path, encoding="utf-8") as f:
    text = f.read()
  # Some upstream configs leave this path unquoted, which the parser rejects.
  text = text.replace("fine_tune_checkpoint: PATH_TO_BE_CONFIGURED\n",
                      'fine_tune_checkpoint: "PATH_TO_BE_CONFIGURED"\n')
  with tempfile.NamedTemporaryFile("w", suffix=".config", delete=False) as tmp:
    tmp.write(text)
  try:
    return config_util.get_configs_from_pipeline_file(tmp.name)["model"]
  finally:
    os.unlink(tmp.name)


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("config")
  parser.add_argument("image")
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--mixed_bfloat16", action="store_true",
                      help="set the Keras global policy (the original only does it on TPU)")
  args = parser.parse_args(argv)
  if args.mixed_bfloat16:
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
  from object_detection.builders import model_builder  # pylint: disable=import-outside-toplevel
  model = model_builder.build(_load_model_config(args.config), is_training=False)
  image = np.asarray(Image.open(args.image).convert("RGB"))[None]

  @tf.function
  def detect(images):
    preprocessed, shapes = model.preprocess(tf.cast(images, tf.float32))
    return model.postprocess(model.predict(preprocessed, shapes), shapes)

  images = tf.constant(image)
  start = time.perf_counter()
  out = detect(images)
  float(tf.reduce_sum(out["detection_boxes"]))
  print(f"FIRST {time.perf_counter() - start:.4f}", flush=True)
  for _ in range(args.steps):
    start = time.perf_counter()
    out = detect(images)
    float(tf.reduce_sum(out["detection_boxes"]))
    print(f"STEP {time.perf_counter() - start:.4f}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
