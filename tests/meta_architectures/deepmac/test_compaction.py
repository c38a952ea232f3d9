"""The DeepMAC mask head on real instances only: same losses and gradients as the padded
computation (without batch statistics), static buckets under XLA, zero-GT batches."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.deepmac import compaction
from object_detection.meta_architectures.deepmac import losses
from object_detection.meta_architectures.deepmac import tiny

G = fields.InputDataFields
L = fields.LossNames


# ------------------------------------------------------------------------------ pure ops
def test_num_used_slots_and_truncate():
  weights = tf.constant([[1.0, 0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0]])
  assert int(compaction.num_used_slots(weights)) == 3
  assert int(compaction.num_used_slots(tf.zeros([2, 5]))) == 0
  gt = {"weights": weights, "boxes": tf.zeros([2, 5, 4]), "masks": None}
  out = compaction.truncate_slots(gt)
  assert out["boxes"].shape == (2, 3, 4) and out["masks"] is None
  assert compaction.truncate_slots({"weights": tf.zeros([2, 5])})["weights"].shape == (2, 1)
  out = tf.function(compaction.truncate_slots)(gt)
  assert out["boxes"].shape == (2, 3, 4)


def test_bucket_sizes():
  assert compaction.bucket_sizes(5) == (5,)
  assert compaction.bucket_sizes(8) == (8,)
  assert compaction.bucket_sizes(32) == (8, 32)
  assert compaction.bucket_sizes(400) == (8, 32, 128, 400)


def _row_sums(x, y):
  """A row-wise fn that also counts its rows (to see what was computed)."""
  return x * 2.0 + tf.reduce_sum(y, axis=1, keepdims=True)


@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
def test_map_valid_equals_masked_full_computation(mode):
  rng = np.random.default_rng(0)
  x = tf.constant(rng.normal(size=[10, 3]).astype(np.float32))
  y = tf.constant(rng.normal(size=[10, 4]).astype(np.float32))
  valid = tf.constant([True, False, True, True, False, False, False, False, False, True])
  rows = []

  def fn(a, b):
    rows.append(a.shape[0])
    return _row_sums(a, b)

  run = lambda v: compaction.map_valid(fn, v, x, y)  # pylint: disable=unnecessary-lambda-assignment
  if mode != "eager":
    run = tf.function(run, jit_compile=mode == "xla")
  want = _row_sums(x, y) * tf.cast(valid, tf.float32)[:, None]
  np.testing.assert_allclose(run(valid), want, rtol=1e-6)
  none = run(tf.zeros([10], tf.bool))
  np.testing.assert_array_equal(none, np.zeros([10, 3]))
  if mode == "eager":
    assert rows == [4, 1]  # the 4 real rows; one masked row when there is none
  if mode == "xla":
    assert sorted(set(rows)) == [8, 10]  # one traced branch per static bucket


# ------------------------------------------------------------------- the DeepMAC loss
def _model(network_type, num_init_channels=8):
  keras.utils.set_random_seed(11)
  model = tiny.build_tiny_deepmac(
      2, network_type=network_type, num_init_channels=num_init_channels, backbone_channels=8,
      head_filters=8, max_box_predictions=3, dim=8, pixel_embedding_dim=8, mask_size=8,
      box_consistency=losses.BoxConsistency(0.5), allowed_masked_classes_ids=[1])
  model(tf.zeros([1, 32, 32, 3]))
  return model


def _groundtruth(num_slots=6, empty=False):
  """Two images; image 0 has real instances in slots 0 and 2 (a gap), image 1 in slot 0."""
  boxes = np.zeros([2, num_slots, 4], np.float32)
  classes = np.zeros([2, num_slots, 2], np.float32)
  weights = np.zeros([2, num_slots], np.float32)
  masks = np.zeros([2, num_slots, 32, 32], np.uint8)
  for b, slot, box, cls in ((0, 0, [0.1, 0.1, 0.5, 0.6], 0), (0, 2, [0.4, 0.3, 0.9, 0.9], 1),
                            (1, 0, [0.2, 0.2, 0.8, 0.7], 0)):
    if empty:
      break
    boxes[b, slot], classes[b, slot, cls], weights[b, slot] = box, 1.0, 1.0
    y0, x0, y1, x1 = (np.array(box) * 32).astype(int)
    masks[b, slot, y0:y1, x0:x1] = 1
  return {G.groundtruth_boxes: tf.constant(boxes), G.groundtruth_classes: tf.constant(classes),
          G.groundtruth_weights: tf.constant(weights),
          G.groundtruth_instance_masks: tf.constant(masks),
          G.num_groundtruth_boxes: tf.constant([2, 1])}


def _losses_and_grads(model, gt, compact, training=True, jit=False):
  model.deepmac_task.compact_instances = compact
  images = tf.constant(np.random.default_rng(7).uniform(0, 255, [2, 32, 32, 3]), tf.float32)

  @tf.function(jit_compile=jit)
  def run(images):
    pre, shapes = model.preprocess(images)
    with tf.GradientTape() as tape:
      predictions = model.predict(pre, shapes, training=training)
      losses = model.loss(predictions, shapes, gt, training=training)
      total = tf.add_n(list(losses.values()))
    return losses, tape.gradient(total, model.trainable_variables)

  try:
    losses, grads = run(images)
  finally:
    model.deepmac_task.compact_instances = True
  return {k: float(v) for k, v in losses.items()}, grads


def _assert_same(a, b, rtol=1e-5, atol=1e-6):
  (losses_a, grads_a), (losses_b, grads_b) = a, b
  assert losses_a.keys() == losses_b.keys()
  for name in losses_a:
    np.testing.assert_allclose(losses_a[name], losses_b[name], rtol=rtol, err_msg=name)
  for ga, gb in zip(grads_a, grads_b):
    if ga is None or gb is None:
      assert ga is None and gb is None
    else:
      np.testing.assert_allclose(ga, gb, rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def fc_model():
  """fully_connected mask head: parameters, no batch statistics."""
  return _model("fully_connected")


@pytest.fixture(scope="module")
def hourglass_model():
  """hourglass10 mask head: batch norm."""
  return _model("hourglass10")


def test_compacted_loss_and_gradients_equal_padded(fc_model):
  gt = _groundtruth()
  padded = _losses_and_grads(fc_model, gt, compact=False)
  assert padded[0][L.deep_mask_estimation] > 0.0
  _assert_same(_losses_and_grads(fc_model, gt, compact=True), padded)


def test_compacted_equals_padded_with_batch_norm_at_inference(hourglass_model):
  gt = _groundtruth()
  _assert_same(_losses_and_grads(hourglass_model, gt, compact=True, training=False),
               _losses_and_grads(hourglass_model, gt, compact=False, training=False))


@pytest.mark.slow
def test_batch_norm_statistics_ignore_padding_slots(hourglass_model):
  """Training mode: the compacted loss no longer depends on how many empty slots there are
  (the padded computation's batch-norm statistics do)."""
  few = _losses_and_grads(hourglass_model, _groundtruth(3), compact=True)
  many = _losses_and_grads(hourglass_model, _groundtruth(8), compact=True)
  _assert_same(few, many, rtol=1e-4)
  padded_few = _losses_and_grads(hourglass_model, _groundtruth(3), compact=False)[0]
  padded_many = _losses_and_grads(hourglass_model, _groundtruth(8), compact=False)[0]
  assert (abs(padded_few[L.deep_mask_estimation] - padded_many[L.deep_mask_estimation]) >
          1e-4)


def test_xla_buckets_equal_padded(fc_model):
  gt = _groundtruth()
  _assert_same(_losses_and_grads(fc_model, gt, compact=True, jit=True),
               _losses_and_grads(fc_model, gt, compact=False), rtol=1e-4, atol=1e-5)


def test_zero_groundtruth_gives_zero_finite_mask_losses(fc_model):
  losses, grads = _losses_and_grads(fc_model, _groundtruth(empty=True), compact=True)
  assert losses[L.deep_mask_estimation] == 0.0
  assert losses[L.deep_mask_box_consistency] == 0.0
  assert all(np.all(np.isfinite(g)) for g in grads if g is not None)
