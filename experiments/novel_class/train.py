"""The two training stages of the experiment.

1. `train_detector`: CenterNet (backbone + object-centre + box heads) on boxes of ALL classes
   (the labels every class has in the paper's setting), through the model contract
   (preprocess -> predict -> loss). No mask loss: the backbone knows nothing about any mask
   head, so it favours none.
2. `train_mask_head`: the DeepMAC task alone (instance / pixel embedding heads + mask network)
   on the frozen detector's cached features, with the library's `DeepMACTask.predict` and
   `DeepMACTask.loss` (mask loss on the crop boxes, gated by allowed_masked_classes_ids).
   Crop boxes are the ground-truth boxes, or (`predicted` crops) detections of the frozen
   detector that overlap a ground-truth box with IoU >= 0.5, whose mask is then the target
   cropped to the detection box (Mask R-CNN's proposal rule).
"""

import time

import numpy as np
import tensorflow as tf

from experiments.novel_class import model as model_lib
from object_detection.core import fields
from object_detection.meta_architectures.center_net import task as task_lib

G = fields.InputDataFields
D = fields.DetectionResultFields


def groundtruth(boxes, classes, masks, num_classes):
  """Numpy padded labels -> the batched-labels dict of the model contract.

  Args:
    boxes: [B, K, 4] float32 normalized. classes: [B, K] int 1-based (0 = padding).
    masks: [B, K, H, W] uint8.
  """
  valid = classes > 0
  one_hot = np.zeros(classes.shape + (num_classes,), np.float32)
  b, k = np.nonzero(valid)
  one_hot[b, k, classes[b, k] - 1] = 1.0
  return {G.groundtruth_boxes: tf.constant(boxes, tf.float32),
          G.groundtruth_classes: tf.constant(one_hot),
          G.groundtruth_weights: tf.constant(valid.astype(np.float32)),
          G.groundtruth_instance_masks: tf.constant(masks, tf.uint8),
          G.num_groundtruth_boxes: tf.constant(valid.sum(1).astype(np.int32))}


def _flip(images, boxes, masks):
  """Horizontal flip of a batch (numpy; boxes normalized, padding rows stay zero)."""
  flipped = boxes.copy()
  valid = (boxes[..., 2] > boxes[..., 0])
  flipped[..., 1] = np.where(valid, 1.0 - boxes[..., 3], 0.0)
  flipped[..., 3] = np.where(valid, 1.0 - boxes[..., 1], 0.0)
  return images[:, :, ::-1], flipped, masks[..., ::-1]


def _batches(rng, num_items, batch_size, steps):
  """Index batches from successive random permutations (epochs)."""
  order = np.array([], np.int64)
  for _ in range(steps):
    if order.size < batch_size:
      order = np.concatenate([order, rng.permutation(num_items)])
    yield order[:batch_size]
    order = order[batch_size:]


class Timer:
  """Wall and process CPU seconds since construction."""

  def __init__(self):
    self.wall, self.cpu = time.time(), time.process_time()

  def seconds(self):
    return {"wall_s": round(time.time() - self.wall, 1),
            "cpu_s": round(time.process_time() - self.cpu, 1)}


def train_detector(model, pipeline, ds, seed, log=print, log_every=100):
  """Trains the backbone and detection heads on `ds` (all classes' boxes); flips at random.

  Returns {"loss": mean total loss of the last 10 % steps, "wall_s", "cpu_s"}.
  """
  steps, batch_size = pipeline.train_config.num_steps, pipeline.train_config.batch_size
  num_classes = pipeline.model.center_net.num_classes
  optimizer, _ = model_lib.build_optimizer(pipeline)
  variables = [v for part in model_lib.detector_parts(model) for v in part.trainable_variables]

  @tf.function
  def step(images, gt):
    preprocessed, shapes = model.preprocess(images)
    with tf.GradientTape() as tape:
      predictions = model.predict(preprocessed, shapes, training=True)
      losses = model.loss(predictions, shapes, gt, training=True)
      total = tf.add_n(list(losses.values()))
    grads = tape.gradient(total, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return total

  rng = np.random.default_rng([seed, 101])
  timer, history = Timer(), []
  for i, idx in enumerate(_batches(rng, len(ds), batch_size, steps)):
    images, boxes, masks = ds.images[idx], ds.boxes[idx], ds.masks[idx]
    if rng.uniform() < 0.5:
      images, boxes, masks = _flip(images, boxes, masks)
    total = float(step(tf.constant(images, tf.float32),
                       groundtruth(boxes, ds.classes[idx], masks, num_classes)))
    history.append(total)
    if i % log_every == 0 or i == steps - 1:
      log(f"  detector step {i:5d}/{steps} loss {total:.4f} {timer.seconds()}")
  tail = history[-max(1, steps // 10):]
  return {"loss": float(np.mean(tail)), **timer.seconds()}


def extract_features(model, images, batch_size=32):
  """[N, h, w, C] float16 last-stack backbone features of uint8 images (inference mode)."""
  @tf.function
  def run(batch):
    preprocessed, _ = model.preprocess(batch)
    return model.feature_extractor(preprocessed, training=False)[-1]

  out = [run(tf.constant(images[i:i + batch_size], tf.float32)).numpy().astype(np.float16)
         for i in range(0, len(images), batch_size)]
  return np.concatenate(out)


def detect(model, images, batch_size=32):
  """Detector outputs on uint8 images: boxes [N, K, 4] (normalized), scores [N, K], classes
  [N, K] 0-based (the model's postprocess; masks not needed here)."""
  @tf.function
  def run(batch):
    preprocessed, shapes = model.preprocess(batch)
    predictions = model.predict(preprocessed, shapes, training=False)
    detections = model.postprocess(predictions, shapes)
    return (detections[D.detection_boxes], detections[D.detection_scores],
            detections[D.detection_classes])

  parts = [run(tf.constant(images[i:i + batch_size], tf.float32))
           for i in range(0, len(images), batch_size)]
  return tuple(np.concatenate([p[j].numpy() for p in parts]) for j in range(3))


def box_iou(a, b):
  """IoU matrix of normalized boxes: [n, 4] x [m, 4] -> [n, m]."""
  ymin = np.maximum(a[:, None, 0], b[None, :, 0])
  xmin = np.maximum(a[:, None, 1], b[None, :, 1])
  ymax = np.minimum(a[:, None, 2], b[None, :, 2])
  xmax = np.minimum(a[:, None, 3], b[None, :, 3])
  inter = np.clip(ymax - ymin, 0, None) * np.clip(xmax - xmin, 0, None)
  area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
  area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
  return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def match_detections(det_boxes, ds, min_iou=0.5):
  """Per image: list of (detection box [4], matched ground-truth slot) with IoU >= min_iou.

  Every detection of the detector's top-K is a candidate, whatever its score (as RPN proposals
  are for Mask R-CNN); each goes to the ground-truth box it overlaps most.
  """
  matches = []
  for i in range(len(ds)):
    slots = np.nonzero(ds.classes[i] > 0)[0]
    if slots.size == 0:
      matches.append([])
      continue
    iou = box_iou(det_boxes[i], ds.boxes[i][slots])
    best = iou.argmax(1)
    keep = np.nonzero(iou.max(1) >= min_iou)[0]
    matches.append([(det_boxes[i][j], int(slots[best[j]])) for j in keep])
  return matches


def _predicted_crop_batch(rng, idx, ds, matches, slots):
  """Labels whose boxes are matched detections (random `slots` per image, resampled per step)."""
  n = len(idx)
  size = ds.masks.shape[-1]
  boxes = np.zeros([n, slots, 4], np.float32)
  classes = np.zeros([n, slots], np.int32)
  masks = np.zeros([n, slots, size, size], np.uint8)
  for b, i in enumerate(idx):
    cands = matches[i]
    if not cands:
      continue
    pick = rng.choice(len(cands), size=min(slots, len(cands)), replace=False)
    for s, c in enumerate(pick):
      box, gt_slot = cands[c]
      boxes[b, s], classes[b, s], masks[b, s] = box, ds.classes[i, gt_slot], ds.masks[i, gt_slot]
  return boxes, classes, masks


def train_mask_head(model, pipeline, ds, features, seed, matches=None, log=print, log_every=100):
  """Trains `model.deepmac_task` on cached features (the detector stays frozen).

  Args:
    model: DeepMACMetaArch (built; detector weights copied and frozen).
    pipeline: its config (train_config: steps, batch size, optimizer, schedule).
    ds: data.Dataset of the training images. features: [N, h, w, C] cached features.
    seed: int (batch order; the caller seeds the initialisation).
    matches: None for ground-truth crops, else match_detections(...) for predicted crops.
  Returns {"loss": mean mask loss of the last 10 % steps, "wall_s", "cpu_s"}.
  """
  task = model.deepmac_task
  steps, batch_size = pipeline.train_config.num_steps, pipeline.train_config.batch_size
  num_classes = pipeline.model.center_net.num_classes
  optimizer, _ = model_lib.build_optimizer(pipeline)
  variables = task.trainable_variables
  size = ds.images.shape[1]
  shapes = tf.constant([[size, size, 3]] * batch_size, tf.int32)
  context = task_lib.TaskContext(preprocessed_inputs=None, true_image_shapes=shapes,
                                 stride=model.stride, training=True)

  @tf.function
  def step(feature_batch, gt):
    with tf.GradientTape() as tape:
      predictions = task.predict([feature_batch], training=True)
      losses = task.loss(predictions, gt, context)
      total = tf.add_n(list(losses.values()))
    grads = tape.gradient(total, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return total

  rng = np.random.default_rng([seed, 202])
  timer, history = Timer(), []
  for i, idx in enumerate(_batches(rng, len(ds), batch_size, steps)):
    if matches is None:
      boxes, classes, masks = ds.boxes[idx], ds.classes[idx], ds.masks[idx]
    else:
      boxes, classes, masks = _predicted_crop_batch(rng, idx, ds, matches, ds.classes.shape[1])
    total = float(step(tf.constant(features[idx], tf.float32),
                       groundtruth(boxes, classes, masks, num_classes)))
    history.append(total)
    if i % log_every == 0 or i == steps - 1:
      log(f"    step {i:5d}/{steps} mask loss {total:.4f} {timer.seconds()}")
  tail = history[-max(1, steps // 10):]
  return {"loss": float(np.mean(tail)), **timer.seconds()}
