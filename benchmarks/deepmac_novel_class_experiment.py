"""DeepMAC novel-class experiment on synthetic shapes (the paper's claim, in miniature).

Three classes drawn with random size and colour on a noise background: 1 = squares, 2 = discs,
3 = triangles (4 orientations). A tiny CenterNet (hourglass_10 backbone) + DeepMAC mask head is
trained with mask labels for squares and discs only (`allowed_masked_classes_ids: [1, 2]`);
then box-prompted masks (`predict_masks_from_boxes` at the ground-truth boxes) are scored by
mask IoU against the ground truth, for the seen classes and for the unseen one (triangles), next
to a trivial baseline: the filled box (IoU 1 for squares, pi/4 for discs, 1/2 for triangles).

Small run (about 5 CPU-minutes; the numbers in the report; --network_type hourglass20 for the
heavier head):
    .venv/bin/python benchmarks/deepmac_novel_class_experiment.py --small
Full run (GPU recommended):
    .venv/bin/python benchmarks/deepmac_novel_class_experiment.py --image_size 128 \
        --steps 3000 --batch_size 16 --network_type hourglass20 --num_init_channels 32
"""

import argparse
import json
import time

import numpy as np
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.deepmac import tiny
from object_detection.ops import mask_ops

G = fields.InputDataFields
CLASS_NAMES = {1: "square", 2: "disc", 3: "triangle"}


def _shape_mask(kind, size, rng):
  """[size, size] bool mask of a shape filling its box."""
  yy, xx = np.mgrid[0:size, 0:size] + 0.5
  if kind == 1:
    return np.ones([size, size], bool)
  if kind == 2:
    r = size / 2.0
    return (yy - r) ** 2 + (xx - r) ** 2 <= r * r
  orientation = rng.integers(4)
  u, v = yy / size, xx / size
  if orientation == 0:      # apex up
    return np.abs(v - 0.5) <= u / 2
  if orientation == 1:      # apex down
    return np.abs(v - 0.5) <= (1 - u) / 2
  if orientation == 2:      # right triangle, lower-left
    return v <= u
  return v >= u             # right triangle, upper-right


def make_image(rng, image_size, max_objects=3, num_classes=3):
  """One image: ([S, S, 3] uint8, boxes [n, 4], classes [n] 1-based, masks [n, S, S] uint8)."""
  image = rng.integers(60, 196, size=[image_size, image_size, 3]).astype(np.float32)
  image = image * 0.5 + rng.integers(60, 196, size=[1, 1, 3]) * 0.5     # coloured noise
  masks, classes = [], []
  for _ in range(rng.integers(1, max_objects + 1)):
    kind = int(rng.integers(1, num_classes + 1))
    size = int(rng.integers(image_size // 6, image_size // 2))
    y, x = rng.integers(0, image_size - size, size=2)
    shape = _shape_mask(kind, size, rng)
    full = np.zeros([image_size, image_size], bool)
    full[y:y + size, x:x + size] = shape
    colour = rng.integers(0, 256, size=3)
    image[full] = colour
    masks = [m & ~full for m in masks]            # later objects occlude earlier ones
    masks.append(full)
    classes.append(kind)
  keep = [i for i, m in enumerate(masks) if m.sum() >= 16]
  masks = np.stack([masks[i] for i in keep]).astype(np.uint8)
  classes = np.array([classes[i] for i in keep], np.int32)
  boxes = []
  for m in masks:
    ys, xs = np.nonzero(m)
    boxes.append([ys.min() / image_size, xs.min() / image_size, (ys.max() + 1) / image_size,
                  (xs.max() + 1) / image_size])
  return image.astype(np.uint8), np.array(boxes, np.float32), classes, masks


def make_batch(rng, batch_size, image_size, max_boxes, num_classes=3):
  """Padded (images [B,S,S,3] float32, groundtruth dict) in the batched-labels layout."""
  images = np.zeros([batch_size, image_size, image_size, 3], np.float32)
  boxes = np.zeros([batch_size, max_boxes, 4], np.float32)
  classes = np.zeros([batch_size, max_boxes, num_classes], np.float32)
  weights = np.zeros([batch_size, max_boxes], np.float32)
  masks = np.zeros([batch_size, max_boxes, image_size, image_size], np.uint8)
  for b in range(batch_size):
    image, bx, cl, mk = make_image(rng, image_size, max_objects=max_boxes,
                                   num_classes=num_classes)
    n = len(cl)
    images[b], boxes[b, :n], weights[b, :n], masks[b, :n] = image, bx, 1.0, mk
    classes[b, np.arange(n), cl - 1] = 1.0
  gt = {G.groundtruth_boxes: boxes, G.groundtruth_classes: classes,
        G.groundtruth_weights: weights, G.groundtruth_instance_masks: masks,
        G.num_groundtruth_boxes: weights.sum(1).astype(np.int32)}
  return images, gt


def build_model(args):
  return tiny.build_tiny_deepmac(
      3, network_type=args.network_type, num_init_channels=args.num_init_channels,
      backbone_channels=args.backbone_channels, head_filters=32,
      max_box_predictions=args.max_boxes, dim=args.dim, pixel_embedding_dim=args.dim,
      mask_size=args.mask_size, allowed_masked_classes_ids=tuple(args.allowed),
      task_loss_weight=5.0)


def train(model, args, rng):
  optimizer = tf.keras.optimizers.Adam(args.learning_rate)

  @tf.function(jit_compile=args.xla)
  def step(images, gt):
    pre, shapes = model.preprocess(images)
    with tf.GradientTape() as tape:
      predictions = model.predict(pre, shapes, groundtruth=gt, training=True)
      losses = model.loss(predictions, shapes, gt, training=True)
      total = tf.add_n(list(losses.values()))
    grads = tape.gradient(total, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return losses

  start = time.time()
  for i in range(args.steps):
    images, gt = make_batch(rng, args.batch_size, args.image_size, args.max_boxes)
    losses = step(tf.constant(images), {k: tf.constant(v) for k, v in gt.items()})
    if i % max(1, args.steps // 10) == 0 or i == args.steps - 1:
      printable = {k.split("/", 1)[1]: round(float(v), 4) for k, v in losses.items()}
      print(f"step {i:5d} {time.time() - start:7.1f}s {printable}", flush=True)
  return time.time() - start


def _iou(a, b):
  union = np.logical_or(a, b).sum()
  return np.logical_and(a, b).sum() / union if union else 1.0


def evaluate(model, args, rng):
  """Mean box-prompted mask IoU per class, and of the filled-box baseline."""
  ious = {c: [] for c in CLASS_NAMES}
  box_ious = {c: [] for c in CLASS_NAMES}
  predict = model.predict_masks_from_boxes   # eager: a few batches only
  for _ in range(args.eval_batches):
    images, gt = make_batch(rng, args.batch_size, args.image_size, args.max_boxes)
    boxes = gt[G.groundtruth_boxes]
    probs = predict(tf.constant(images), tf.constant(boxes))
    pasted = mask_ops.paste_and_binarize_masks(probs, boxes, args.image_size,
                                               args.image_size).numpy()
    filled = mask_ops.paste_and_binarize_masks(
        tf.ones_like(probs), boxes, args.image_size, args.image_size).numpy()
    for b in range(args.batch_size):
      for n in range(args.max_boxes):
        if gt[G.groundtruth_weights][b, n] == 0:
          continue
        label = int(np.argmax(gt[G.groundtruth_classes][b, n])) + 1
        target = gt[G.groundtruth_instance_masks][b, n].astype(bool)
        ious[label].append(_iou(pasted[b, n].astype(bool), target))
        box_ious[label].append(_iou(filled[b, n].astype(bool), target))
  return ({c: float(np.mean(v)) for c, v in ious.items() if v},
          {c: float(np.mean(v)) for c, v in box_ious.items() if v})


def run(args):
  tf.keras.utils.set_random_seed(args.seed)
  rng = np.random.default_rng(args.seed)
  model = build_model(args)
  seconds = train(model, args, rng)
  ious, box_ious = evaluate(model, args, np.random.default_rng(args.seed + 1))
  unseen = [c for c in CLASS_NAMES if c not in args.allowed]
  result = {
      "train_seconds": round(seconds, 1), "steps": args.steps,
      "mask_iou": {CLASS_NAMES[c]: round(v, 3) for c, v in ious.items()},
      "filled_box_iou": {CLASS_NAMES[c]: round(v, 3) for c, v in box_ious.items()},
      "seen_classes": [CLASS_NAMES[c] for c in args.allowed],
      "unseen_classes": [CLASS_NAMES[c] for c in unseen],
  }
  print(json.dumps(result, indent=1))
  return result


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--small", action="store_true",
                      help="CPU run (~5 min on 2 cores): 96x96 images, 600 steps of batch 8, "
                      "resnet8 head")
  parser.add_argument("--image_size", type=int, default=128)
  parser.add_argument("--steps", type=int, default=3000)
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--max_boxes", type=int, default=3)
  parser.add_argument("--network_type", default="hourglass20")
  parser.add_argument("--num_init_channels", type=int, default=32)
  parser.add_argument("--backbone_channels", type=int, default=16)
  parser.add_argument("--dim", type=int, default=16)
  parser.add_argument("--mask_size", type=int, default=32)
  parser.add_argument("--allowed", type=int, nargs="+", default=[1, 2],
                      help="1-based class ids with mask labels (1 square, 2 disc, 3 triangle)")
  parser.add_argument("--learning_rate", type=float, default=1e-3)
  parser.add_argument("--eval_batches", type=int, default=8)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--no_xla", dest="xla", action="store_false")
  args = parser.parse_args(argv)
  if args.small:   # smaller defaults; flags given explicitly still win
    parser.set_defaults(image_size=96, steps=600, batch_size=8, learning_rate=2e-3,
                        network_type="resnet8", num_init_channels=16, backbone_channels=16,
                        dim=16, mask_size=16, eval_batches=6)
    args = parser.parse_args(argv)
  return args


if __name__ == "__main__":
  run(parse_args())
