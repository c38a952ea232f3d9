"""DeepMACMetaArch on a tiny model: the 4-method contract, box-prompted masks, XLA train step."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.deepmac import losses
from object_detection.meta_architectures.deepmac import tiny

G = fields.InputDataFields
L = fields.LossNames
D = fields.DetectionResultFields


@pytest.fixture(scope="module")
def model():
  return tiny.build_tiny_deepmac(
      2, network_type="resnet4", num_init_channels=4, backbone_channels=4, head_filters=4,
      max_box_predictions=3, dim=4, pixel_embedding_dim=4, mask_size=8,
      box_consistency=losses.BoxConsistency(0.5), color_consistency=losses.ColorConsistency(0.5),
      allowed_masked_classes_ids=[1], max_roi_jitter_ratio=0.1,
      roi_jitter_mode="expand_symmetric")


def _groundtruth(num_boxes=2):
  boxes = np.zeros([2, 3, 4], np.float32)
  masks = np.zeros([2, 3, 32, 32], np.uint8)
  weights = np.zeros([2, 3], np.float32)
  classes = np.zeros([2, 3, 2], np.float32)
  for i in range(num_boxes):
    boxes[:, i] = [0.1 + 0.3 * i, 0.1, 0.5 + 0.3 * i, 0.6]
    masks[:, i, 4 + 10 * i:14 + 10 * i, 4:18] = 1
    weights[:, i] = 1.0
    classes[:, i, i % 2] = 1.0
  return {G.groundtruth_boxes: tf.constant(boxes), G.groundtruth_classes: tf.constant(classes),
          G.groundtruth_weights: tf.constant(weights),
          G.groundtruth_instance_masks: tf.constant(masks),
          G.num_groundtruth_boxes: tf.constant([num_boxes] * 2)}


def test_contract_and_detection_masks(model):
  images = tf.random.uniform([2, 32, 32, 3], 0, 255, seed=1)
  detections = model(images)
  assert detections[D.detection_masks].shape == (2, 3, 8, 8)
  assert detections[D.detection_boxes].shape == (2, 3, 4)
  masks = detections[D.detection_masks].numpy()
  assert np.all((masks >= 0) & (masks <= 1))


def test_predict_masks_from_boxes(model):
  images = tf.random.uniform([1, 32, 32, 3], 0, 255, seed=2)
  boxes = tf.constant([[[0.0, 0.0, 0.5, 0.5], [0.2, 0.3, 0.9, 1.0]]])
  masks = model.predict_masks_from_boxes(images, boxes)
  assert masks.shape == (1, 2, 8, 8)
  # Same as the task on the predictions with the boxes (identity resizer: no padding).
  pre, shapes = model.preprocess(images)
  direct = model.deepmac_task.mask_probabilities(model.predict(pre, shapes), boxes)
  np.testing.assert_allclose(masks, direct, atol=1e-5)


@pytest.fixture(scope="module")
def train_step(model):
  """One XLA-compiled train step for the module (compiling dominates the cost)."""
  optimizer = tf.keras.optimizers.Adam(1e-3)

  @tf.function(jit_compile=True)
  def step(images, gt):
    pre, shapes = model.preprocess(images)
    with tf.GradientTape() as tape:
      predictions = model.predict(pre, shapes, groundtruth=gt, training=True)
      losses = model.loss(predictions, shapes, gt, training=True)
      total = tf.add_n(list(losses.values()))
    grads = tape.gradient(total, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return losses
  return step


@pytest.mark.parametrize("num_boxes", [2, 0])
def test_jit_compiled_train_step(model, train_step, num_boxes):
  images = tf.random.uniform([2, 32, 32, 3], 0, 255, seed=3)
  step_before = int(model.training_step.numpy())
  losses = train_step(images, _groundtruth(num_boxes))
  assert {L.deep_mask_estimation, L.deep_mask_box_consistency,
          L.deep_mask_color_consistency} <= set(losses)
  assert int(model.training_step.numpy()) == step_before + 1
  for name, value in losses.items():
    assert np.isfinite(float(value)), name
  if num_boxes == 0:
    assert float(losses[L.deep_mask_estimation]) == 0.0
    assert float(losses[L.deep_mask_box_consistency]) == 0.0
  else:
    assert float(losses[L.deep_mask_estimation]) > 0.0
