"""Mixed bfloat16: policies reach every layer, variables/losses stay float32, and the tiny DeepMAC
model gives the float32 losses, gradients and detections within bfloat16's precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.core import precision
from object_detection.meta_architectures.deepmac import losses
from object_detection.meta_architectures.deepmac import tiny

G = fields.InputDataFields
D = fields.DetectionResultFields

# bfloat16 keeps 8 mantissa bits (relative rounding 2^-9 = 0.2%); through ~20 layers the
# losses of this tiny model move by well under 3% (measured: at most ~1%).
LOSS_RTOL = 3e-2
GRAD_MIN_COSINE = 0.98


def _groundtruth():
  boxes = np.array([[[0.1, 0.1, 0.5, 0.6], [0.5, 0.4, 0.9, 0.9]],
                    [[0.2, 0.2, 0.8, 0.7], [0.0, 0.0, 0.0, 0.0]]], np.float32)
  weights = np.array([[1, 1], [1, 0]], np.float32)
  classes = np.array([[[1, 0], [0, 1]], [[1, 0], [0, 0]]], np.float32)
  masks = np.zeros([2, 2, 32, 32], np.float32)
  masks[0, 0, 4:16, 4:18] = 1
  masks[0, 1, 16:28, 14:28] = 1
  masks[1, 0, 7:25, 7:22] = 1
  return {G.groundtruth_boxes: tf.constant(boxes), G.groundtruth_classes: tf.constant(classes),
          G.groundtruth_weights: tf.constant(weights),
          G.groundtruth_instance_masks: tf.constant(masks),
          G.num_groundtruth_boxes: tf.constant([2, 1])}


@pytest.fixture(scope="module")
def model():
  keras.utils.set_random_seed(5)
  net = tiny.build_tiny_deepmac(
      2, network_type="hourglass10", num_init_channels=8, backbone_channels=8, head_filters=8,
      max_box_predictions=3, dim=8, pixel_embedding_dim=8, mask_size=8,
      box_consistency=losses.BoxConsistency(0.5))
  net(tf.zeros([1, 32, 32, 3]))
  return net


def _step(model, images, gt):
  """(losses, gradients, predictions) of one training forward/backward."""

  @tf.function
  def run(images):
    pre, shapes = model.preprocess(images)
    with tf.GradientTape() as tape:
      predictions = model.predict(pre, shapes, groundtruth=gt, training=True)
      losses = model.loss(predictions, shapes, gt, training=True)
      total = tf.add_n(list(losses.values()))
    return losses, tape.gradient(total, model.trainable_variables), predictions

  return run(images)


def test_apply_reaches_nested_layers_and_keeps_float32_variables(model):
  try:
    precision.apply(model, precision.MIXED_BFLOAT16)
    layers = precision.all_layers(model)
    # Layers held in lists (the hourglass' blocks, the tasks' per-stack heads) are reached.
    assert len(layers) > 50
    assert {l.compute_dtype for l in layers} == {"bfloat16"}
    assert {tf.as_dtype(v.dtype) for v in model.trainable_variables} == {tf.float32}
    assert precision.compute_dtype(model) == "bfloat16"
  finally:
    precision.apply(model, precision.FLOAT32)
  assert {l.compute_dtype for l in precision.all_layers(model)} == {"float32"}
  with pytest.raises(ValueError, match="unknown policy"):
    precision.apply(model, "mixed_float16")


def test_policy_for():
  assert precision.policy_for(True) == "mixed_bfloat16"
  assert precision.policy_for(False) == "float32"


def test_to_float32_casts_floating_leaves_only():
  out = precision.to_float32({"a": [tf.ones([2], tf.bfloat16)], "b": tf.ones([2], tf.int32),
                              "c": None})
  assert out["a"][0].dtype == tf.float32 and out["b"].dtype == tf.int32 and out["c"] is None


def test_bfloat16_training_matches_float32_within_tolerance(model):
  images = tf.random.uniform([2, 32, 32, 3], 0, 255, seed=3)
  gt = _groundtruth()
  ref_losses, ref_grads, _ = _step(model, images, gt)
  try:
    precision.apply(model, precision.MIXED_BFLOAT16)
    losses, grads, predictions = _step(model, images, gt)
  finally:
    precision.apply(model, precision.FLOAT32)
  # The backbone really computed in bfloat16; what leaves the tasks is float32.
  assert predictions["extracted_features"][0].dtype == tf.bfloat16
  assert all(t.dtype == tf.float32 for k, v in predictions.items()
             if k != "extracted_features" for t in tf.nest.flatten(v))
  assert set(losses) == set(ref_losses)
  for name, value in losses.items():
    assert value.dtype == tf.float32
    np.testing.assert_allclose(value, ref_losses[name], rtol=LOSS_RTOL, err_msg=name)
  for g, r, v in zip(grads, ref_grads, model.trainable_variables):
    assert g.dtype == tf.float32, v.name
  flat = tf.concat([tf.reshape(g, [-1]) for g in grads], 0)
  ref = tf.concat([tf.reshape(g, [-1]) for g in ref_grads], 0)
  cosine = float(tf.reduce_sum(flat * ref) / (tf.norm(flat) * tf.norm(ref)))
  assert cosine > GRAD_MIN_COSINE
  assert np.all(np.isfinite(flat.numpy()))


def test_bfloat16_inference_outputs_float32_close_to_float32(model):
  images = tf.random.uniform([2, 32, 32, 3], 0, 255, seed=4)
  ref = model(images)
  try:
    precision.apply(model, precision.MIXED_BFLOAT16)
    out = model(images)
    masks = model.predict_masks_from_boxes(images, tf.constant([[[0.1, 0.1, 0.6, 0.6]]] * 2))
  finally:
    precision.apply(model, precision.FLOAT32)
  for key in (D.detection_scores, D.detection_boxes, D.detection_masks):
    assert out[key].dtype == tf.float32
  assert masks.dtype == tf.float32
  # Untrained scores sit near sigmoid(-2.19) = 0.1: compare them absolutely.
  np.testing.assert_allclose(out[D.detection_scores], ref[D.detection_scores], atol=5e-3)


def test_bfloat16_weights_compute_the_same_as_autocast():
  # precision.bfloat16_weights holds the kernels of bfloat16 layers as bfloat16 variables: the
  # same bfloat16 numbers that autocast would make at each call, so the same outputs.
  def build():
    keras.utils.set_random_seed(3)
    net = tiny.build_tiny_deepmac(3, network_type="resnet4", num_init_channels=4, dim=4,
                                  pixel_embedding_dim=4, mask_size=8)
    net.build_variables()
    return precision.apply(net, precision.MIXED_BFLOAT16)
  autocast, held = build(), build()
  assert precision.bfloat16_weights(held) > 20
  kernels = [v for v in held.variables if v.path.endswith("/kernel")]
  assert kernels and all(v.value.dtype == tf.bfloat16 for v in kernels)
  statistics = [v for v in held.variables if "moving_" in v.path]
  assert statistics and all(v.value.dtype == tf.float32 for v in statistics)
  images = tf.random.stateless_uniform([1, 64, 64, 3], seed=(1, 2), maxval=255.0)
  want = tf.function(lambda x: autocast(x, training=False))(images)
  got = tf.function(lambda x: held(x, training=False))(images)
  for key in (D.detection_boxes, D.detection_scores, D.detection_masks):
    assert got[key].dtype == tf.float32
    np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
