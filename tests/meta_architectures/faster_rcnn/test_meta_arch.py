"""The tiny Faster / Mask R-CNN through the model contract: shapes, XLA, zero ground truth,
stages 1/2/3, GT-box mask training and class-restricted mask supervision."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.faster_rcnn import mask_heads
from object_detection.meta_architectures.faster_rcnn import targets

D = fields.DetectionResultFields
F = fields.InputDataFields
L = fields.LossNames


def _run(model, images, gt, training):
  x, shapes = model.preprocess(images)
  pred = model.predict(x, shapes, gt, training=training)
  return x, shapes, pred


def test_training_predictions_and_losses(tiny):
  make_model, make_gt, make_images = tiny
  model = make_model()
  gt = make_gt()
  _, shapes, pred = _run(model, make_images(), gt, True)
  assert pred["proposal_boxes"].shape == (2, 8, 4)             # second_stage_batch_size
  assert pred["refined_box_encodings"].shape == (2, 8, 3, 4)
  assert pred["class_predictions_with_background"].shape == (2, 8, 4)
  # The mask head runs on the positive sampled proposals: floor(8 * 0.25) = 2 per image.
  assert pred["mask_predictions"].shape == (2, 2, 3, 8, 8)
  losses = model.loss(pred, shapes, gt)
  assert set(losses) == {L.rpn_localization, L.rpn_objectness, L.box_classifier_localization,
                         L.box_classifier_classification, L.box_classifier_mask}
  for value in losses.values():
    assert np.isfinite(value.numpy()) and value.numpy() >= 0.0
  assert losses[L.rpn_objectness].numpy() > 0.0


def test_zero_ground_truth(tiny):
  make_model, make_gt, make_images = tiny
  model = make_model()
  gt = make_gt(empty=True)
  _, shapes, pred = _run(model, make_images(), gt, True)
  losses = {k: v.numpy() for k, v in model.loss(pred, shapes, gt).items()}
  assert all(np.isfinite(v) for v in losses.values())
  assert losses[L.rpn_localization] == 0.0
  assert losses[L.box_classifier_localization] == 0.0
  assert losses[L.box_classifier_mask] == 0.0
  assert losses[L.rpn_objectness] > 0.0 and losses[L.box_classifier_classification] > 0.0


@pytest.mark.parametrize("stages", [2, 3])
def test_inference_outputs(tiny, stages):
  make_model, _, make_images = tiny
  model = make_model(number_of_stages=stages)
  x, shapes = model.preprocess(make_images())
  det = model.postprocess(model.predict(x, shapes), shapes)
  assert det[D.detection_boxes].shape == (2, 10, 4)
  assert det[D.detection_masks].shape == (2, 10, 8, 8)
  assert det[D.detection_multiclass_scores].shape == (2, 10, 3)
  assert det[D.raw_detection_boxes].shape == (2, 24, 4)
  masks = det[D.detection_masks].numpy()
  assert masks.min() >= 0.0 and masks.max() <= 1.0
  num = det[D.num_detections].numpy()
  for b in range(2):
    assert np.all(det[D.detection_scores].numpy()[b, num[b]:] == 0.0)
    assert np.all(masks[b, num[b]:] == 0.0)
  boxes = det[D.detection_boxes].numpy()
  assert boxes.min() >= 0.0 and boxes.max() <= 1.0


def test_single_stage_outputs_proposals(tiny):
  make_model, make_gt, make_images = tiny
  model = make_model(number_of_stages=1, mask_head=None)
  gt = make_gt()
  x, shapes, pred = _run(model, make_images(), gt, True)
  assert set(model.loss(pred, shapes, gt)) == {L.rpn_localization, L.rpn_objectness}
  det = model.postprocess(model.predict(x, shapes), shapes)
  assert det[D.detection_boxes].shape == (2, 24, 4)
  assert np.all(det[D.detection_classes].numpy() == 0.0)


@pytest.mark.slow
def test_train_step_compiles_with_xla(tiny):
  make_model, make_gt, make_images = tiny
  model = make_model(number_of_stages=3)
  gt = make_gt()
  x, shapes = model.preprocess(make_images())
  eager = model.loss(model.predict(x, shapes, gt, training=True), shapes, gt)

  @tf.function(jit_compile=True)
  def train_step(x, shapes, gt):
    with tf.GradientTape() as tape:
      losses = model.loss(model.predict(x, shapes, gt, training=True), shapes, gt)
      total = tf.add_n(list(losses.values()))
    return losses, tape.gradient(total, model.trainable_variables)

  losses, grads = train_step(x, shapes, gt)
  assert set(losses) == set(eager)
  assert all(np.isfinite(v.numpy()) for v in losses.values())
  assert sum(g is not None for g in grads) == len(model.trainable_variables)


def test_inference_in_tf_function_matches_eager(tiny):
  # predict and postprocess are compared separately: with random weights the RPN scores are
  # all close to 0.5, so float noise between eager and graph kernels can reorder proposals.
  make_model, _, make_images = tiny
  model = make_model(number_of_stages=2)
  x, shapes = model.preprocess(make_images())
  pred = model.predict(x, shapes)
  graph_pred = tf.function(lambda x, s: model.predict(x, s))(x, shapes)
  for key in ("rpn_box_encodings", "rpn_objectness_predictions_with_background"):
    np.testing.assert_allclose(graph_pred[key].numpy(), pred[key].numpy(), atol=1e-5)
  eager = model.postprocess(pred, shapes)
  graph = tf.function(model.postprocess)(pred, shapes)
  for key in (D.detection_boxes, D.detection_scores, D.detection_masks, D.num_detections):
    np.testing.assert_allclose(graph[key].numpy(), eager[key].numpy(), atol=1e-5)


def test_gt_box_masks_and_allowed_classes(tiny):
  make_model, make_gt, make_images = tiny
  gt = make_gt()
  images = make_images()
  model = make_model(use_gt_boxes_for_masks=True)
  _, shapes, pred = _run(model, images, gt, True)
  assert pred["mask_predictions"].shape == (2, 2, 3, 8, 8)     # one per (padded) GT box
  all_classes = model.loss(pred, shapes, gt)[L.box_classifier_mask].numpy()
  assert all_classes > 0.0
  # Only class id 3 (index 2: image 1, box 1) is supervised -> the loss is that box's alone.
  model.roi_heads.allowed_masked_classes_ids = (3,)
  restricted = model.loss(pred, shapes, gt)[L.box_classifier_mask].numpy()
  logits = pred["mask_predictions"].numpy()[1, 1, 2]
  t = targets.mask_targets(gt[F.groundtruth_instance_masks], tf.constant([[0, 1], [0, 1]]),
                           gt[F.groundtruth_boxes], (8, 8)).numpy()[1, 1]
  expected = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(t, logits)).numpy()
  np.testing.assert_allclose(restricted, expected, rtol=1e-4)
  # Only class id 1, whose single instance has weight 0 -> exactly 0.
  model.roi_heads.allowed_masked_classes_ids = (1,)
  weights = gt[F.groundtruth_weights].numpy()
  weights[0, 0] = 0.0
  gt[F.groundtruth_weights] = tf.constant(weights)
  assert model.loss(pred, shapes, gt)[L.box_classifier_mask].numpy() == 0.0


def test_deep_mask_head_in_the_model(tiny):
  make_model, make_gt, make_images = tiny
  head = mask_heads.DeepMaskHead(
      mask_heads.MaskHeadParams(3, 8, 8, 2, 4, class_agnostic=True),
      mask_heads.ConvStack(2, 4))
  model = make_model(number_of_stages=3, mask_head=head, use_gt_boxes_for_masks=True)
  gt = make_gt()
  _, shapes, pred = _run(model, make_images(), gt, True)
  assert pred["mask_predictions"].shape == (2, 2, 1, 8, 8)
  assert np.isfinite(model.loss(pred, shapes, gt)[L.box_classifier_mask].numpy())
  x, shapes = model.preprocess(make_images())
  assert model.postprocess(model.predict(x, shapes), shapes)[D.detection_masks].shape == (
      2, 10, 8, 8)


def test_restore_map_and_errors(tiny, tmp_path):
  make_model, _, make_images = tiny
  model = make_model()
  x, shapes = model.preprocess(make_images())
  model.postprocess(model.predict(x, shapes), shapes)
  assert set(model.restore_map("classification")) == {"c1", "c2"}
  assert model.restore_map("full")["model"] is model
  # A training checkpoint (model under "model") restores the extractor of a fresh model.
  path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
  fresh = make_model()
  fresh.postprocess(fresh.predict(x, shapes), shapes)
  status = tf.train.Checkpoint(**fresh.restore_map("detection")).restore(path)
  status.expect_partial().assert_existing_objects_matched()
  np.testing.assert_array_equal(fresh.feature_extractor.c1.kernel.numpy(),
                                model.feature_extractor.c1.kernel.numpy())
  assert not np.array_equal(fresh.roi_heads.box_head.box_dense.kernel.numpy(),
                            model.roi_heads.box_head.box_dense.kernel.numpy())
  with pytest.raises(ValueError, match="fine_tune_checkpoint_type"):
    model.restore_map("bogus")
  with pytest.raises(ValueError, match="number_of_stages: 3"):
    make_model(number_of_stages=3, mask_head=None)


def test_instance_mask_weights_switch_off_mask_supervision(tiny):
  make_model, make_gt, make_images = tiny
  model = make_model(use_gt_boxes_for_masks=True)
  gt = make_gt()
  x, shapes = model.preprocess(make_images())
  pred = model.predict(x, shapes, gt, training=True)
  assert model.loss(pred, shapes, gt)[L.box_classifier_mask].numpy() > 0.0
  gt[F.groundtruth_instance_mask_weights] = tf.zeros([2, 2])
  assert model.loss(pred, shapes, gt)[L.box_classifier_mask].numpy() == 0.0


def test_pre_nms_top_k_bounds_first_stage_nms(tiny):
  """Only the pre_nms_top_k best-scoring boxes enter the first-stage NMS (a documented
  deviation from the original, which runs NMS over every anchor)."""
  make_model, _, _ = tiny
  n = 40
  # Anchors 0..9 are one box (best scores); 10..39 are disjoint boxes with lower scores.
  y = np.arange(n, dtype=np.float32) * 0.02
  anchors = np.stack([y, y, y + 0.015, y + 0.015], -1)
  anchors[:10] = [0.1, 0.1, 0.5, 0.5]
  logits = np.zeros([1, n, 2], np.float32)
  logits[0, :, 1] = np.linspace(5.0, 1.0, n)
  pred = {"rpn_box_encodings": tf.zeros([1, n, 4]), "anchors": tf.constant(anchors),
          "rpn_objectness_predictions_with_background": tf.constant(logits)}
  windows = tf.constant([[0.0, 0.0, 1.0, 1.0]])
  # pre_nms_top_k above the anchor count: all boxes enter the NMS.
  generator = make_model(number_of_stages=1, pre_nms_top_k=1000).proposal_generator
  _, num, _ = generator.proposals(pred, windows)
  assert int(num[0]) == 24                                    # 1 + 23 disjoint (max 24)
  generator = make_model(number_of_stages=1, pre_nms_top_k=12).proposal_generator
  for fn in (generator.proposals, tf.function(generator.proposals),
             tf.function(generator.proposals, jit_compile=True)):
    props, num, _ = fn(pred, windows)
    assert int(num[0]) == 3                                   # 1 of the duplicates + 10, 11
    np.testing.assert_allclose(props[0, 0], [0.1, 0.1, 0.5, 0.5], atol=1e-6)
    assert props.shape == (1, 24, 4) and np.all(props[0, 3:].numpy() == 0.0)


def test_build_variables_at_the_build_size_makes_the_full_size_variables(tiny, tmp_path):
  # DetectionModel.build_variables runs predict on a 256x256 zero image (FasterRCNNMetaArch
  # BUILD_INPUT_SIZE); the variables are those of a call at the model's own input size.
  make_model, _, make_images = tiny
  small = make_model()
  small.build_variables()
  full = make_model()
  full(make_images(batch=1), training=False)

  def signature(model, name):  # (checkpoint key, shape): what restoring depends on
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / name))
    return sorted((k, tuple(s)) for k, s in tf.train.list_variables(path) if k.startswith("model/"))
  expected = signature(full, "full")
  assert len(expected) > 10
  assert signature(small, "small") == expected
