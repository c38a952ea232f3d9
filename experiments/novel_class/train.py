"""The two training stages of the experiment.

1. `train_detector`: CenterNet (backbone + object-centre + box heads) on boxes of ALL classes
   (the labels every class has in the paper's setting), through the model contract
   (preprocess -> predict -> loss). No mask loss: the starting point favours no mask head.
2. `train_arm`: the whole DeepMAC model, initialised from that detector (as the paper's
   DeepMAC configs fine-tune from a CenterNet detector), trained jointly with the detection
   losses and the DeepMAC mask loss (masks of the allowed classes only). Mask crops are the
   ground-truth boxes, or (`predicted` crops) detections of the shared detector that overlap a
   ground-truth box with IoU >= 0.5, whose mask is then the target cropped to the detection
   box (Mask R-CNN's proposal rule).
"""

import time

import numpy as np
import tensorflow as tf

from experiments.novel_class import model as model_lib
from object_detection.core import fields
from object_detection.meta_architectures.center_net import meta_arch as center_net_meta_arch
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


def _flip_boxes(boxes):
  """Horizontal flip of normalized [..., 4] boxes (all-zero padding rows stay zero)."""
  flipped = boxes.copy()
  valid = boxes[..., 2] > boxes[..., 0]
  flipped[..., 1] = np.where(valid, 1.0 - boxes[..., 3], 0.0)
  flipped[..., 3] = np.where(valid, 1.0 - boxes[..., 1], 0.0)
  return flipped


def _flip(images, boxes, masks):
  """Horizontal flip of a batch: images [B, H, W, 3], boxes [B, K, 4], masks [B, K, H, W]."""
  return images[:, :, ::-1], _flip_boxes(boxes), masks[..., ::-1]


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


def _losses(model, predictions, shapes, gt, mask_gt):
  """The model's losses; with `mask_gt` (predicted crops) the mask task gets those labels and
  the detection tasks the real ones (the model contract passes one label dict to all tasks,
  hence the task loop, which is the meta-architecture's own loss loop)."""
  if mask_gt is None:
    return model.loss(predictions, shapes, gt, training=True)
  context = task_lib.TaskContext(
      preprocessed_inputs=predictions[center_net_meta_arch.PREPROCESSED_INPUTS],
      true_image_shapes=shapes, stride=model.stride, training=True,
      features=predictions[center_net_meta_arch.FEATURES])
  losses = {}
  for task in model.tasks:
    losses.update(task.loss(predictions, mask_gt if task is model.deepmac_task else gt, context))
  return losses


def train_arm(model, pipeline, ds, seed, matches=None, log=print, log_every=100):
  """Trains the whole model (backbone, detection heads, DeepMAC task; initialised from the shared
  detector) on `ds` with random horizontal flips, as the paper trains DeepMAC.

  Args:
    model: DeepMACMetaArch (built; detector weights copied in).
    pipeline: its config (train_config: steps, batch size, optimizer, schedule).
    ds: data.Dataset of the training images.
    seed: int (batch order and flips; the caller seeds the initialisation).
    matches: None for ground-truth crops, else match_detections(...) for predicted crops.
  Returns {"loss", "mask_loss": means over the last 10 % steps, "wall_s", "cpu_s"}.
  """
  steps, batch_size = pipeline.train_config.num_steps, pipeline.train_config.batch_size
  num_classes = pipeline.model.center_net.num_classes
  optimizer, _ = model_lib.build_optimizer(pipeline)
  variables = model.trainable_variables
  mask_key = fields.LossNames.deep_mask_estimation

  def forward_backward(images, gt, mask_gt):
    preprocessed, shapes = model.preprocess(images)
    with tf.GradientTape() as tape:
      predictions = model.predict(preprocessed, shapes, training=True)
      losses = _losses(model, predictions, shapes, gt, mask_gt)
      total = tf.add_n(list(losses.values()))
    grads = tape.gradient(total, variables)
    grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
    optimizer.apply_gradients(zip(grads, variables))
    return total, losses[mask_key]

  step = tf.function(lambda images, gt: forward_backward(images, gt, None))
  step_predicted = tf.function(forward_backward)
  rng = np.random.default_rng([seed, 202])
  timer, history = Timer(), []
  for i, idx in enumerate(_batches(rng, len(ds), batch_size, steps)):
    flip = rng.uniform() < 0.5
    images, boxes, masks = ds.images[idx], ds.boxes[idx], ds.masks[idx]
    if flip:
      images, boxes, masks = _flip(images, boxes, masks)
    gt = groundtruth(boxes, ds.classes[idx], masks, num_classes)
    images = tf.constant(images, tf.float32)
    if matches is None:
      total, mask_loss = step(images, gt)
    else:
      p_boxes, p_classes, p_masks = _predicted_crop_batch(rng, idx, ds, matches,
                                                          ds.classes.shape[1])
      if flip:
        p_boxes, p_masks = _flip_boxes(p_boxes), p_masks[..., ::-1]
      total, mask_loss = step_predicted(images, gt, groundtruth(p_boxes, p_classes, p_masks,
                                                                num_classes))
    history.append((float(total), float(mask_loss)))
    if i % log_every == 0 or i == steps - 1:
      log(f"    step {i:5d}/{steps} loss {history[-1][0]:.4f} mask loss {history[-1][1]:.4f} "
          f"{timer.seconds()}")
  tail = np.array(history[-max(1, steps // 10):])
  return {"loss": float(tail[:, 0].mean()), "mask_loss": float(tail[:, 1].mean()),
          **timer.seconds()}
