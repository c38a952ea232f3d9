"""DeepMACTask: partial supervision normaliser, GT-box crops, jitter, zero-GT, stacks, postprocess."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.core import registries
from object_detection.meta_architectures.center_net.task import TaskContext
from object_detection.meta_architectures.deepmac import losses as losses_lib
from object_detection.meta_architectures.deepmac import mask_networks
from object_detection.meta_architectures.deepmac import task as task_lib
from object_detection.ops import mask_ops

G = fields.InputDataFields
L = fields.LossNames
D = fields.DetectionResultFields
NUM_CLASSES = 3


def _task(num_feature_outputs=1, network_type="resnet4", num_init_channels=4,
          use_instance_embedding=True, **kw):
  base = dict(dim=4, pixel_embedding_dim=4, mask_size=4, task_loss_weight=2.0)
  base.update(kw)
  mask_net = mask_networks.MaskHeadNetwork(registries.DEEPMAC_MASK_NETWORKS.get(network_type),
                                           num_init_channels, base["mask_size"],
                                           use_instance_embedding)
  return task_lib.DeepMACTask(NUM_CLASSES, num_feature_outputs, mask_net, **base)


def _groundtruth(weights=(1.0, 1.0, 0.0), classes=(0, 2, -1)):
  boxes = tf.constant([[[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]])
  masks = np.zeros([1, 3, 8, 8], np.uint8)
  masks[0, 0, :4, :4] = 1
  masks[0, 1, 2:, 2:] = 1
  return {G.groundtruth_boxes: boxes,
          G.groundtruth_classes: tf.one_hot([list(classes)], NUM_CLASSES),
          G.groundtruth_weights: tf.constant([list(weights)]),
          G.groundtruth_instance_masks: tf.constant(masks)}


def _context(training=True):
  return TaskContext(preprocessed_inputs=tf.zeros([1, 8, 8, 3]),
                     true_image_shapes=tf.constant([[8, 8, 3]]), stride=4, training=training)


def _zero_logits(boxes):
  """[B, N, 4, 4] zeros for the boxes the task asks logits for."""
  return tf.zeros(tf.concat([tf.shape(boxes)[:2], [4, 4]], 0))


def _features(num=1):
  return [tf.random.normal([1, 4, 4, 6], seed=i) for i in range(num)]


def test_allowed_class_loss_and_normalizer_hand_computed(monkeypatch):
  # Class ids: instance 0 is label 1 (allowed), instance 1 is label 3 (not allowed).
  task = _task(allowed_masked_classes_ids=[1])
  # Logits 0 for instance 0 (loss log 2 whatever the target), a terrible +-50 for instance 1.
  def fake_logits(instance_embedding, pixel_embedding, boxes, training=False, valid=None):
    del instance_embedding, pixel_embedding, training, valid
    # (The task drops the trailing padded slot before calling: boxes has 2 slots.)
    return tf.stack([tf.zeros([1, 4, 4]), tf.fill([1, 4, 4], -50.0), tf.zeros([1, 4, 4])],
                    1)[:, :tf.shape(boxes)[1]] + 0.0 * boxes[:, :, :1, None]
  monkeypatch.setattr(task, "mask_logits_from_boxes", fake_logits)
  losses = task.loss(task.predict(_features()), _groundtruth(), _context())
  # Disallowed contributes exactly 0 and the normaliser counts allowed instances only (1).
  np.testing.assert_allclose(float(losses[L.deep_mask_estimation]), 2.0 * np.log(2.0), rtol=1e-6)
  assert set(losses) == {L.deep_mask_estimation}


def test_all_classes_when_allowed_list_is_empty(monkeypatch):
  task = _task()
  monkeypatch.setattr(task, "mask_logits_from_boxes",
                      lambda i, p, b, training=False, valid=None: _zero_logits(b))
  losses = task.loss(task.predict(_features()), _groundtruth(), _context())
  np.testing.assert_allclose(float(losses[L.deep_mask_estimation]), 2.0 * np.log(2.0), rtol=1e-6)


def test_targets_are_soft_crops_at_the_gt_boxes_and_logits_use_the_same_boxes(monkeypatch):
  task = _task(max_roi_jitter_ratio=0.3, roi_jitter_mode="expand")
  gt = _groundtruth()
  jittered = tf.constant([[0.0, 0.0, 0.75, 0.75], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
  # The task drops the trailing padded slot first: 2 boxes are jittered.
  monkeypatch.setattr(task_lib.box_jitter, "random_jitter_boxes",
                      lambda boxes, ratio, mode: jittered[:tf.shape(boxes)[0]])
  seen = {}
  def fake_logits(instance_embedding, pixel_embedding, boxes, training=False, valid=None):
    seen["boxes"] = boxes
    return _zero_logits(boxes)
  captured = {}
  real_mask_loss = task_lib.losses.mask_loss
  def spy_mask_loss(classification_loss, logits, targets):
    captured["targets"] = targets
    return real_mask_loss(classification_loss, logits, targets)
  monkeypatch.setattr(task, "mask_logits_from_boxes", fake_logits)
  monkeypatch.setattr(task_lib.losses, "mask_loss", spy_mask_loss)
  task.loss(task.predict(_features()), gt, _context(training=True))
  np.testing.assert_allclose(seen["boxes"].numpy()[0], jittered.numpy()[:2])
  expected = mask_ops.crop_masks_to_boxes(gt[G.groundtruth_instance_masks][0, :2],
                                          jittered[:2], 4)
  np.testing.assert_allclose(captured["targets"].numpy()[0], expected.numpy(), atol=1e-6)
  # Inference-time loss (training=False): no jitter, the GT boxes themselves.
  task.loss(task.predict(_features()), gt, _context(training=False))
  np.testing.assert_allclose(seen["boxes"].numpy(), gt[G.groundtruth_boxes].numpy()[:, :2])


@pytest.mark.parametrize("in_function", [False, True])
def test_zero_groundtruth_gives_exact_zero_losses(in_function):
  task = _task(box_consistency=losses_lib.BoxConsistency(1.0),
               color_consistency=losses_lib.ColorConsistency(1.0))
  gt = _groundtruth(weights=(0.0, 0.0, 0.0), classes=(-1, -1, -1))
  context = TaskContext(preprocessed_inputs=tf.zeros([1, 8, 8, 3]),
                        true_image_shapes=tf.constant([[8, 8, 3]]), stride=4, training=True,
                        unnormalize_fn=lambda x: x + 128.0)
  def run(features):
    return task.loss(task.predict(features), gt, context)
  if in_function:
    run = tf.function(run)
  losses = run(_features())
  assert set(losses) == {L.deep_mask_estimation, L.deep_mask_box_consistency,
                         L.deep_mask_color_consistency}
  for value in losses.values():
    assert float(value) == 0.0


def test_gather_at_box_centres_floors():
  embedding = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
  boxes = tf.constant([[[0.0, 0.0, 0.5, 0.5], [0.5, 0.25, 1.0, 1.0]]])
  # Centres · 4: (1, 1) -> 5; (3, 2.5) -> floor (3, 2) -> 14.
  out = task_lib.gather_at_box_centres(embedding, boxes).numpy()
  np.testing.assert_array_equal(out[0, :, 0], [5.0, 14.0])


def test_mask_input_is_the_roialign_crop_of_the_pixel_embedding(monkeypatch):
  task = _task(network_type="embedding_projection", use_xy=False,
               use_instance_embedding=False, dim=1, pixel_embedding_dim=1, mask_size=3)
  ramp = tf.reshape(10.0 * tf.range(6.0)[:, None] + tf.range(6.0)[None, :], [1, 6, 6, 1])
  ones = tf.ones([1, 6, 6, 1])
  boxes = tf.constant([[[0.2, 0.0, 0.6, 1.0]]])
  logits = task.mask_logits_from_boxes(ones, ramp, boxes)
  # Projection with an instance embedding of 1 = the crop itself: rows y = 1, 2, 3; x = 0, 2.5, 5.
  np.testing.assert_allclose(logits.numpy()[0, 0], 10.0 * np.array([1, 2, 3.])[:, None]
                             + np.array([0, 2.5, 5.0])[None], atol=1e-4)


def test_loss_is_averaged_over_stacks_unless_use_only_last_stage(monkeypatch):
  for only_last, expected in ((False, (np.log(2.0) + _sp(5.0)) / 2), (True, _sp(5.0))):
    task = _task(2, use_only_last_stage=only_last)
    calls = []
    def fake_logits(instance_embedding, pixel_embedding, boxes, training=False, valid=None):
      calls.append(1)
      # Stack 0 -> logits 0; stack 1 -> logits −5 against targets... use constant targets 1.
      value = 0.0 if (len(calls) == 1 and not only_last) else -5.0
      return _zero_logits(boxes) + value
    monkeypatch.setattr(task, "mask_logits_from_boxes", fake_logits)
    gt = _groundtruth()
    gt[G.groundtruth_instance_masks] = tf.ones([1, 3, 8, 8], tf.uint8)
    gt[G.groundtruth_boxes] = tf.constant([[[0.0, 0.0, 1.0, 1.0]] * 3])
    losses = task.loss(task.predict(_features(2)), gt, _context())
    np.testing.assert_allclose(float(losses[L.deep_mask_estimation]), 2.0 * expected, rtol=1e-5)
    assert len(calls) == (1 if only_last else 2)


def _sp(x):
  return float(np.log1p(np.exp(x)))


def test_postprocess_masks_on_detected_boxes_in_padded_frame():
  task = _task()
  predictions = task.predict(_features())
  context = TaskContext(preprocessed_inputs=tf.zeros([1, 8, 8, 3]),
                        true_image_shapes=tf.constant([[4, 8, 3]]), stride=4, training=False)
  boxes = tf.constant([[[0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 1.0, 1.0]]])
  out = task.postprocess(predictions, {D.detection_boxes: boxes}, context)
  masks = out[D.detection_masks]
  assert masks.shape == (1, 2, 4, 4)
  assert np.all((masks.numpy() >= 0) & (masks.numpy() <= 1))
  padded = task_lib.boxes_true_to_padded(boxes, tf.constant([[4, 8, 3]]), [8, 8])
  np.testing.assert_allclose(padded.numpy()[0, 1], [0.25, 0.5, 0.5, 1.0])
  np.testing.assert_allclose(masks, task.mask_probabilities(predictions, padded), atol=1e-6)


def test_embedding_heads_use_unit_height_kernels():
  task = _task()
  task.predict(_features())
  kernels = [w for w in task.instance_heads[0].weights if "kernel" in w.path]
  assert tuple(kernels[0].shape) == (1, 3, 6, 256)
  # Both heads per stack: (1·3·C·256 + 256) + (256·dim + dim) each.
  count = sum(int(np.prod(w.shape)) for h in task.instance_heads + task.pixel_heads
              for w in h.weights)
  assert count == 2 * (3 * 6 * 256 + 256 + 256 * 4 + 4)


def test_color_consistency_in_crop_mode_hand_computed_with_warmup(monkeypatch):
  """White image: every in-crop neighbour pair is similar (LAB distance 0); neighbours beyond
  the crop read the zero padding (distance 100 -> inactive). Logits 0 -> P(same) = 0.5."""
  task = _task(color_consistency=losses_lib.ColorConsistency(3.0, dilation=1, warmup_steps=10),
               task_loss_weight=0.0)
  monkeypatch.setattr(task, "mask_logits_from_boxes",
                      lambda i, p, b, training=False, valid=None: _zero_logits(b))
  context = TaskContext(preprocessed_inputs=tf.zeros([1, 8, 8, 3]),
                        true_image_shapes=tf.constant([[8, 8, 3]]), stride=4, training=True,
                        step=tf.constant(5, tf.int64), unnormalize_fn=lambda x: x + 255.0)
  losses = task.loss(task.predict(_features()), _groundtruth(), context)
  assert set(losses) == {L.deep_mask_color_consistency}
  # In-grid (pixel, neighbour) pairs of a 4x4 grid: 4 diagonals x 9 + 4 axial x 12 = 84;
  # per instance 84·log 2 / 16 box pixels; warm-up 5/10; weight 3.
  expected = 3.0 * 0.5 * 84 * np.log(2.0) / 16
  np.testing.assert_allclose(float(losses[L.deep_mask_color_consistency]), expected, rtol=1e-5)


def test_augmented_self_supervision_runs_a_second_pass(monkeypatch):
  task = _task(self_supervision=losses_lib.SelfSupervision(1.0, loss="loss_mse",
                                                          flip_probability=1.0))
  features = _features()
  passes = []
  def predict_fn(images, training):
    passes.append(images)
    return task.predict(features, training=training)
  context = TaskContext(preprocessed_inputs=tf.random.normal([1, 8, 8, 3], seed=4),
                        true_image_shapes=tf.constant([[8, 8, 3]]), stride=4, training=True,
                        predict_fn=predict_fn)
  losses = task.loss(task.predict(features), _groundtruth(), context)
  assert len(passes) == 1
  # The second pass saw the flipped image (scale 1, translation 0).
  np.testing.assert_allclose(passes[0].numpy(), context.preprocessed_inputs.numpy()[:, :, ::-1],
                             atol=1e-5)
  assert np.isfinite(float(losses[L.deep_mask_augmented_self_supervision]))
