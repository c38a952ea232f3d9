"""Overfitting a tiny synthetic set with an XLA-compiled train step (hourglass_10, 128x128)."""

import keras
import numpy as np
import pytest
import tensorflow as tf


def _synthetic(make_groundtruth):
  """Two 128x128 images with 2 and 1 flat-coloured rectangles on a grey background."""
  images = np.full([2, 128, 128, 3], 128.0, np.float32)
  boxes = np.array([[[0.10, 0.10, 0.45, 0.40], [0.55, 0.50, 0.90, 0.95]],
                    [[0.30, 0.20, 0.80, 0.60], [0.0, 0.0, 0.0, 0.0]]], np.float32)
  classes = [[0, 1], [2, 0]]
  weights = [[1.0, 1.0], [1.0, 0.0]]
  colours = {0: (250.0, 20.0, 20.0), 1: (20.0, 250.0, 20.0), 2: (20.0, 20.0, 250.0)}
  for b in range(2):
    for n in range(2):
      if weights[b][n]:
        y0, x0, y1, x1 = (boxes[b, n] * 128).astype(int)
        images[b, y0:y1, x0:x1] = colours[classes[b][n]]
  return tf.constant(images), make_groundtruth(boxes, classes, weights)


@pytest.mark.slow
def test_loss_drops_by_90_percent(make_tiny_model, make_groundtruth):
  keras.utils.set_random_seed(0)
  model = make_tiny_model(size=128, num_channels=8, filters=16)
  images, gt = _synthetic(make_groundtruth)
  preprocessed, true_shapes = model.preprocess(images)
  model.predict(preprocessed, true_shapes)  # build variables outside the compiled step
  optimizer = keras.optimizers.Adam(2e-3)

  @tf.function(jit_compile=True)
  def step(preprocessed, true_shapes, gt):
    with tf.GradientTape() as tape:
      predictions = model.predict(preprocessed, true_shapes, training=True)
      total = tf.add_n(list(model.loss(predictions, true_shapes, gt).values()))
    grads = tape.gradient(total, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return total

  losses = [float(step(preprocessed, true_shapes, gt)) for _ in range(250)]
  assert np.isfinite(losses).all()
  assert min(losses[-10:]) < 0.1 * losses[0], (losses[0], losses[-10:])
