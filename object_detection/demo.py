"""The README's demo: partially supervised instance segmentation on generated shapes, on CPU.

  bash run.sh demo                       # = python -m object_detection.demo
  python -m object_detection.demo --steps=300 --num_train=96 --output_dir=/tmp/demo

1. makes a small dataset: 128x128 images with 1-3 filled shapes (square, circle, triangle) on a
   noisy background, written as TFRecords with PNG masks + label_map.pbtxt;
2. trains configs/tf2/center_net_deepmac_hourglass10_128x128_shapes_cpu.config, where masks
   supervise squares and circles only (`allowed_masked_classes_ids: [1, 2]`);
3. evaluates box and mask AP and prints mask AP on the seen classes vs the novel triangles;
4. exports a SavedModel (with the box-prompted `image_and_boxes` signature);
5. runs the exported model on validation images and writes overlay pictures.
Everything goes to --output_dir (demo_output/ by default, git-ignored).
"""

import hashlib
import io
import os
import time

import numpy as np
from PIL import Image, ImageDraw

from object_detection.utils import cli
from object_detection.utils import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "tf2", "center_net_deepmac_hourglass10_128x128_shapes_cpu.config")
CLASSES = ("square", "circle", "triangle")
LABEL_MAP = "".join(f'item {{\n  id: {i + 1}\n  name: "{n}"\n}}\n' for i, n in enumerate(CLASSES))


def draw_shape(size, kind, center, radius):
  """[size, size] uint8 {0,1} mask of one shape (kind in CLASSES; center (y, x), radius px)."""
  canvas = Image.new("L", (size, size), 0)
  draw = ImageDraw.Draw(canvas)
  cy, cx = center
  if kind == "square":
    draw.rectangle([cx - radius, cy - radius, cx + radius, cy + radius], fill=1)
  elif kind == "circle":
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=1)
  else:
    draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)],
                 fill=1)
  return np.asarray(canvas, np.uint8)


def make_image(rng, size=128, max_shapes=3):
  """-> (image [size,size,3] uint8, masks [N,size,size] uint8, classes [N] 1-based)."""
  image = rng.normal(110, 20, (size, size, 3)).clip(0, 255)
  masks, classes = [], []
  occupied = np.zeros((size, size), bool)
  for _ in range(int(rng.integers(1, max_shapes + 1))):
    for _ in range(20):  # find a spot that overlaps little with earlier shapes
      radius = int(rng.integers(10, 24))
      center = tuple(int(v) for v in rng.integers(radius, size - radius, 2))
      cls = int(rng.integers(0, len(CLASSES)))
      mask = draw_shape(size, CLASSES[cls], center, radius)
      if (mask.astype(bool) & occupied).sum() < 0.1 * mask.sum():
        break
    else:
      continue
    color = rng.integers(0, 256, 3)
    image[mask.astype(bool)] = color
    occupied |= mask.astype(bool)
    masks.append(mask)
    classes.append(cls + 1)
  # later shapes cover earlier ones: keep the visible part of each mask
  for i in range(len(masks)):
    for later in masks[i + 1:]:
      masks[i] = masks[i] & (1 - later)
  return image.astype(np.uint8), np.array(masks, np.uint8), np.array(classes, np.int64)


def _png(array):
  buf = io.BytesIO()
  Image.fromarray(array).save(buf, format="PNG")
  return buf.getvalue()


def write_dataset(path, num_images, seed, image_dir=None):
  """Writes `num_images` generated examples to the TFRecord `path` (PNGs to image_dir too)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from object_detection.dataset_tools import dataset_util  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(seed)
  with tf.io.TFRecordWriter(path) as writer:
    for i in range(num_images):
      image, masks, classes = make_image(rng)
      encoded = _png(image)
      boxes, areas = [], []
      for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append((ys.min() / 128, xs.min() / 128, (ys.max() + 1) / 128, (xs.max() + 1) / 128))
        areas.append(float(m.sum()))
      example = dataset_util.make_tf_example(
          encoded_image=encoded, image_format="png", height=128, width=128,
          filename=f"{i:05d}.png", source_id=str(i), sha256=hashlib.sha256(encoded).hexdigest(),
          boxes=boxes, class_labels=classes.tolist(),
          class_texts=[CLASSES[c - 1] for c in classes], is_crowd=[0] * len(classes),
          area=areas, masks_png=[_png(m) for m in masks])
      writer.write(example.SerializeToString())
      if image_dir is not None:
        os.makedirs(image_dir, exist_ok=True)
        Image.fromarray(image).save(os.path.join(image_dir, f"{i:05d}.png"))


def make_pipeline_config(data_dir, out_path):
  """Copies the demo config with PATH_TO_BE_CONFIGURED -> data_dir."""
  with open(CONFIG, encoding="utf-8") as f:
    text = f.read().replace("PATH_TO_BE_CONFIGURED", os.path.abspath(data_dir))
  with open(out_path, "w", encoding="utf-8") as f:
    f.write(text)
  return out_path


def run_demo(output_dir="demo_output", steps=1000, num_train=320, num_val=48, batch_size=8,
             num_pictures=8, seed=0, progress=print, use_bfloat16=False, train_seed=1):
  """Runs the five stages; returns a dict of what was measured (AP numbers, paths, seconds).

  use_bfloat16: train, evaluate and export in mixed bfloat16 (train_config.use_bfloat16).
  train_seed: the training run's seed (initial weights, input order, augmentations, the model's
  random ops: model_lib.run_training's `seed`); runs with the same seeds end with the same
  weights on CPU. None: a random one (printed).
  """
  from object_detection.export import exporter_lib  # pylint: disable=import-outside-toplevel
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  from object_detection import inference  # pylint: disable=import-outside-toplevel
  from object_detection import model_lib  # pylint: disable=import-outside-toplevel
  t0 = time.time()
  data_dir = os.path.join(output_dir, "data")
  model_dir = os.path.join(output_dir, "model")
  os.makedirs(data_dir, exist_ok=True)
  with open(os.path.join(data_dir, "label_map.pbtxt"), "w", encoding="utf-8") as f:
    f.write(LABEL_MAP)
  write_dataset(os.path.join(data_dir, "train.tfrecord"), num_train, seed)
  write_dataset(os.path.join(data_dir, "val.tfrecord"), num_val, seed + 1,
                image_dir=os.path.join(data_dir, "val_images"))
  config = make_pipeline_config(data_dir, os.path.join(output_dir, "pipeline.config"))
  progress(f"[1/5] data: {num_train} train / {num_val} val images in {data_dir}")

  overrides = [f"train_config.batch_size={batch_size}", f"train_config.num_steps={steps}",
               "train_config.optimizer.adam_optimizer.learning_rate.cosine_decay_learning_rate"
               f".total_steps={steps}",
               "train_config.optimizer.adam_optimizer.learning_rate.cosine_decay_learning_rate"
               f".warmup_steps={max(1, steps // 10)}"]
  if use_bfloat16:
    overrides.append("train_config.use_bfloat16=true")
  t1 = time.time()
  model_lib.run_training(config, model_dir, overrides=overrides, num_train_steps=steps,
                         checkpoint_every_n=max(steps // 2, 1), progress=progress,
                         log_every_n=max(1, min(50, steps // 10)), seed=train_seed)
  progress(f"[2/5] trained {steps} steps in {time.time() - t1:.0f}s -> {model_dir}")

  _, metrics = model_lib.run_evaluation(config, model_dir, model_dir, overrides=overrides,
                                        once=True)[0]
  seen = metrics.get("DetectionMasks_MaskSupervised/Precision/mAP", float("nan"))
  novel = metrics.get("DetectionMasks_Novel/Precision/mAP", float("nan"))
  progress(f"[3/5] eval: box mAP {metrics['DetectionBoxes_Precision/mAP']:.3f}, mask mAP "
           f"{metrics['DetectionMasks_Precision/mAP']:.3f}; mask mAP seen (square, circle) "
           f"{seen:.3f} vs novel (triangle) {novel:.3f}")
  for name in CLASSES:
    key = f"DetectionMasks_PerformanceByCategory/mAP/{name}"
    if key in metrics:
      progress(f"      mask AP {name}: {metrics[key]:.3f}")

  export_dir = os.path.join(output_dir, "exported")
  pipeline = loader.load_pipeline_config(config, overrides=overrides)
  names = exporter_lib.export_inference_graph("image_tensor", pipeline, model_dir, export_dir,
                                              use_bfloat16=use_bfloat16)
  progress(f"[4/5] exported {export_dir}/saved_model (signatures: {', '.join(names)}; "
           f"{'mixed bfloat16' if use_bfloat16 else 'float32'})")

  val_images = sorted(os.listdir(os.path.join(data_dir, "val_images")))[:num_pictures]
  pictures = os.path.join(output_dir, "pictures")
  _, overlays = inference.run_inference(
      export_dir, [os.path.join(data_dir, "val_images", n) for n in val_images], pictures,
      label_map_path=os.path.join(data_dir, "label_map.pbtxt"), min_score_thresh=0.3)
  progress(f"[5/5] {len(overlays)} overlay pictures in {pictures} "
           f"(total {time.time() - t0:.0f}s)")
  return {"metrics": metrics, "seen_mask_map": seen, "novel_mask_map": novel,
          "overlays": overlays, "seconds": time.time() - t0}


def build_parser():
  p = flags.FlagParser(prog="demo", description=__doc__.split("\n")[0])
  p.add_argument("--output_dir", default="demo_output")
  p.add_argument("--steps", type=int, default=1000)
  p.add_argument("--num_train", type=int, default=320)
  p.add_argument("--num_val", type=int, default=48)
  p.add_argument("--batch_size", type=int, default=8)
  p.add_argument("--num_pictures", type=int, default=8)
  p.add_argument("--seed", type=int, default=0, help="seed of the generated data")
  p.add_argument("--train_seed", type=int, default=1,
                 help="seed of the training run: initial weights, input order, augmentations")
  p.add_bool("use_bfloat16", default=False, help="train, evaluate and export in mixed bfloat16")
  return p


def main(argv=None):
  args = build_parser().parse_args(argv)
  cli.start(args)
  run_demo(args.output_dir, args.steps, args.num_train, args.num_val, args.batch_size,
           args.num_pictures, args.seed, use_bfloat16=args.use_bfloat16,
           train_seed=args.train_seed)


if __name__ == "__main__":
  cli.run_main(lambda: main() or 0)
