"""A tiny Mask R-CNN overfits a synthetic set of coloured rectangles (64x64, 100 steps)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields

F = fields.InputDataFields
L = fields.LossNames
COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.float32)


def _paint(gt, size=64):
  """Images whose objects are their (class-coloured) masks on a grey background."""
  masks = gt[F.groundtruth_instance_masks].numpy().astype(np.float32)
  classes = gt[F.groundtruth_classes].numpy()
  images = np.full([masks.shape[0], size, size, 3], 60.0, np.float32)
  for b in range(masks.shape[0]):
    for n in range(masks.shape[1]):
      if classes[b, n].any():
        colour = COLOURS[classes[b, n].argmax()]
        images[b][masks[b, n] > 0] = colour
  return tf.constant(images)


@pytest.mark.slow
def test_tiny_mask_rcnn_overfits(tiny):
  make_model, make_gt, _ = tiny
  model = make_model(number_of_stages=3)
  gt = make_gt()
  x, shapes = model.preprocess(_paint(gt))
  optimizer = keras.optimizers.Adam(3e-3)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      losses = model.loss(model.predict(x, shapes, gt, training=True), shapes, gt)
      total = tf.add_n(list(losses.values()))
    grads = tape.gradient(total, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return total, losses[L.box_classifier_mask]

  history = [step() for _ in range(100)]
  first = np.mean([float(t) for t, _ in history[:5]])
  last = np.mean([float(t) for t, _ in history[-5:]])
  mask_first = np.mean([float(m) for _, m in history[:5]])
  mask_last = np.mean([float(m) for _, m in history[-5:]])
  assert last < 0.5 * first, (first, last)
  assert mask_last < 0.6 * mask_first, (mask_first, mask_last)
