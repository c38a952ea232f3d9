"""A tiny DetectionModel and dataset for tests of the train / eval / export machinery.

`TinyCenterModel` follows core/model.py's contract with a CenterNet-like head (stride 4):
an object-center heatmap, a box size and a 4x4 box-relative mask per cell; it learns quickly on
`synthetic_dataset` (one square per image, its class = its colour). It also implements
`predict_masks_from_boxes` so the box-prompted export signature can be tested. It is not a
research model: use it only to exercise the machinery at 64x64.
"""

import keras
import numpy as np
import tensorflow as tf

from object_detection.core import fields
from object_detection.core.model import DetectionModel
from object_detection.ops import mask_ops

IN = fields.InputDataFields
DET = fields.DetectionResultFields
STRIDE = 4
MASK = 4


class TinyBackbone(keras.layers.Layer):
  """Two convs -> [B, H/4, W/4, C] features."""

  def __init__(self, channels=8, **kwargs):
    super().__init__(**kwargs)
    self.conv1 = keras.layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu",
                                     kernel_regularizer=keras.regularizers.L2(1e-4))
    self.conv2 = keras.layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu")

  def call(self, images, training=False):
    return self.conv2(self.conv1(images))


class TinyCenterModel(DetectionModel):
  """CenterNet-like toy model: heatmap (num_classes) + size (2) + mask (16) per cell."""

  def __init__(self, num_classes=2, channels=8, max_detections=5, seed=1):
    super().__init__(num_classes)
    keras.utils.set_random_seed(seed)
    self._feature_extractor = TinyBackbone(channels)
    self.head = keras.layers.Conv2D(
        num_classes + 2 + MASK * MASK, 1,
        bias_initializer=keras.initializers.Constant(
            [-2.0] * num_classes + [0.0] * (2 + MASK * MASK)))
    self._max_detections = max_detections

  def preprocess(self, images):
    images = tf.cast(images, tf.float32)
    shape = tf.shape(images)
    true = tf.tile(tf.stack([shape[1], shape[2], 3])[tf.newaxis], [shape[0], 1])
    return images / 127.5 - 1.0, tf.cast(true, tf.int32)

  def predict(self, preprocessed_inputs, true_image_shapes, groundtruth=None, training=False):
    features = self._feature_extractor(preprocessed_inputs, training=training)
    # float32 outside the layers (they compute in bfloat16 under mixed precision).
    return {"features": features, "head": tf.cast(self.head(features), tf.float32)}

  def _split(self, head):
    c = self.num_classes
    return head[..., :c], head[..., c:c + 2], head[..., c + 2:]

  def loss(self, prediction_dict, true_image_shapes, groundtruth, training=True):
    heat, size, mask = self._split(prediction_dict["head"])
    h, w = tf.shape(heat)[1], tf.shape(heat)[2]
    boxes = groundtruth[IN.groundtruth_boxes]                        # [B, N, 4]
    weights = groundtruth[IN.groundtruth_weights]                    # [B, N]
    classes = groundtruth[IN.groundtruth_classes]                    # [B, N, C]
    cy = tf.cast(tf.floor((boxes[..., 0] + boxes[..., 2]) / 2 * tf.cast(h, tf.float32)), tf.int32)
    cx = tf.cast(tf.floor((boxes[..., 1] + boxes[..., 3]) / 2 * tf.cast(w, tf.float32)), tf.int32)
    cy, cx = tf.clip_by_value(cy, 0, h - 1), tf.clip_by_value(cx, 0, w - 1)
    onehot = (tf.one_hot(cy, h)[..., :, tf.newaxis, tf.newaxis] *
              tf.one_hot(cx, w)[..., tf.newaxis, :, tf.newaxis] *
              (classes * weights[..., tf.newaxis])[:, :, tf.newaxis, tf.newaxis, :])
    target = tf.reduce_max(onehot, axis=1)                           # [B, h, w, C]
    num = tf.maximum(tf.reduce_sum(weights), 1.0)
    center = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(target, heat)) / num
    index = tf.stack([cy, cx], axis=-1)
    size_at = tf.gather_nd(size, index, batch_dims=1)                # [B, N, 2]
    size_target = tf.stack([boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]], -1)
    scale = tf.reduce_sum(tf.abs(size_at - size_target) * weights[..., tf.newaxis]) / num
    losses = {fields.LossNames.object_center: center, fields.LossNames.box_scale: scale}
    if IN.groundtruth_instance_masks in groundtruth:
      gt_masks = tf.cast(groundtruth[IN.groundtruth_instance_masks], tf.float32)
      b, n = tf.shape(boxes)[0], tf.shape(boxes)[1]
      flat = tf.reshape(gt_masks, tf.concat([[b * n], tf.shape(gt_masks)[2:]], 0))
      crops = mask_ops.crop_masks_to_boxes(flat, tf.reshape(boxes, [-1, 4]), MASK)
      crops = tf.reshape(crops, [b, n, MASK * MASK])
      mask_at = tf.gather_nd(mask, index, batch_dims=1)
      per = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(crops, mask_at), -1)
      losses[fields.LossNames.deep_mask_estimation] = tf.reduce_sum(per * weights) / num
    return losses

  def postprocess(self, prediction_dict, true_image_shapes):
    heat, size, mask = self._split(prediction_dict["head"])
    b, h, w = tf.shape(heat)[0], tf.shape(heat)[1], tf.shape(heat)[2]
    c = self.num_classes
    scores, idx = tf.math.top_k(tf.reshape(tf.sigmoid(heat), [b, -1]), k=self._max_detections)
    cls = idx % c
    cell = idx // c
    y = (tf.cast(cell // w, tf.float32) + 0.5) / tf.cast(h, tf.float32)
    x = (tf.cast(cell % w, tf.float32) + 0.5) / tf.cast(w, tf.float32)
    index = tf.stack([cell // w, cell % w], axis=-1)
    sz = tf.maximum(tf.gather_nd(size, index, batch_dims=1), 0.0)
    boxes = tf.clip_by_value(tf.stack([y - sz[..., 0] / 2, x - sz[..., 1] / 2,
                                       y + sz[..., 0] / 2, x + sz[..., 1] / 2], -1), 0.0, 1.0)
    masks = tf.sigmoid(tf.reshape(tf.gather_nd(mask, index, batch_dims=1),
                                  [b, self._max_detections, MASK, MASK]))
    return {DET.detection_boxes: boxes, DET.detection_scores: scores,
            DET.detection_classes: tf.cast(cls, tf.float32),
            DET.num_detections: tf.reduce_sum(tf.cast(scores > 0.0, tf.int32), axis=1),
            DET.detection_masks: masks}

  def predict_masks_from_boxes(self, images, boxes):
    """images [B, H, W, 3] raw float32, boxes [B, N, 4] normalized -> [B, N, 4, 4] float32."""
    preprocessed, true_shapes = self.preprocess(images)
    _, _, mask = self._split(self.predict(preprocessed, true_shapes)["head"])
    h, w = tf.shape(mask)[1], tf.shape(mask)[2]
    cy = tf.clip_by_value(tf.cast((boxes[..., 0] + boxes[..., 2]) / 2 * tf.cast(h, tf.float32),
                                  tf.int32), 0, h - 1)
    cx = tf.clip_by_value(tf.cast((boxes[..., 1] + boxes[..., 3]) / 2 * tf.cast(w, tf.float32),
                                  tf.int32), 0, w - 1)
    at = tf.gather_nd(mask, tf.stack([cy, cx], -1), batch_dims=1)
    return tf.sigmoid(tf.reshape(at, tf.concat([tf.shape(boxes)[:2], [MASK, MASK]], 0)))

  def restore_map(self, fine_tune_checkpoint_type="detection"):
    if fine_tune_checkpoint_type in ("detection", "classification"):
      return {"feature_extractor": self._feature_extractor}
    return super().restore_map(fine_tune_checkpoint_type)


def synthetic_examples(num_images, size=64, num_classes=2, seed=0):
  """-> list of (image [size,size,3] uint8, boxes [1,4] normalized, classes [1] 1-based,
  masks [1,size,size] uint8): one filled square per image, red = class 1, green = class 2."""
  rng = np.random.default_rng(seed)
  out = []
  for _ in range(num_images):
    image = np.zeros((size, size, 3), np.uint8)
    side = int(rng.integers(size // 4, size // 2))
    y, x = (int(v) for v in rng.integers(0, size - side, 2))
    cls = int(rng.integers(1, num_classes + 1))
    image[y:y + side, x:x + side, (cls - 1) % 3] = 255
    mask = np.zeros((1, size, size), np.uint8)
    mask[0, y:y + side, x:x + side] = 1
    out.append((image, np.array([[y / size, x / size, (y + side) / size, (x + side) / size]],
                                np.float32), np.array([cls]), mask))
  return out


def synthetic_dataset(model, num_images=8, batch_size=2, num_classes=2, max_boxes=2, seed=0,
                      repeat=True, eval_fields=False):
  """(features, labels) batches in fields.py's layout for `model` (64x64, padded to max_boxes)."""
  examples = synthetic_examples(num_images, num_classes=num_classes, seed=seed)
  images = np.stack([e[0] for e in examples])
  pre, true = model.preprocess(tf.constant(images, tf.float32))
  pad = max_boxes - 1
  boxes = np.stack([np.pad(e[1], [[0, pad], [0, 0]]) for e in examples])
  classes = np.stack([np.pad(np.eye(num_classes, dtype=np.float32)[e[2] - 1], [[0, pad], [0, 0]])
                      for e in examples])
  masks = np.stack([np.pad(e[3], [[0, pad], [0, 0], [0, 0]]) for e in examples])
  weights = np.stack([np.array([1.0] + [0.0] * pad, np.float32) for _ in examples])
  features = {IN.image: pre.numpy(), IN.true_image_shape: true.numpy()}
  if eval_fields:
    features[IN.original_image_spatial_shape] = np.tile([[64, 64]], [num_images, 1]).astype(
        np.int32)
    features[IN.original_image] = images
  labels = {IN.groundtruth_boxes: boxes, IN.groundtruth_classes: classes,
            IN.groundtruth_weights: weights, IN.groundtruth_instance_masks: masks,
            IN.num_groundtruth_boxes: np.ones([num_images], np.int32),
            IN.groundtruth_instance_mask_weights: weights}
  ds = tf.data.Dataset.from_tensor_slices((features, labels))
  if repeat:
    ds = ds.repeat()
  return ds.batch(batch_size, drop_remainder=True)
