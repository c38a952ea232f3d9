"""CenterNetMetaArch on a tiny hourglass_10: the four-method contract, gradients, restore.

The XLA-compiled train step is exercised by test_overfit.py (one compile for both).
"""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.center_net import meta_arch

D = fields.DetectionResultFields
L = fields.LossNames


def _batch(groundtruth):
  images = tf.random.stateless_uniform([2, 32, 64, 3], seed=(1, 2), maxval=255.0)
  gt = groundtruth([[[0.1, 0.1, 0.4, 0.3], [0, 0, 0, 0]], [[0.2, 0.5, 0.45, 0.9],
                                                           [0.05, 0.0, 0.3, 0.2]]],
                   [[0, 0], [1, 2]], [[1.0, 0.0], [1.0, 1.0]])
  return images, gt


def test_preprocess_resizes_pads_and_normalizes(tiny_model):
  images = tf.fill([2, 32, 64, 3], 120.0)
  preprocessed, true_shapes = tiny_model.preprocess(images)
  assert preprocessed.shape == (2, 64, 64, 3)
  np.testing.assert_array_equal(true_shapes.numpy(), [[32, 64, 3]] * 2)
  # BGR: (120, 120, 120) - (120, 110, 100) / 60 in the content, -means/60 in the padding.
  np.testing.assert_allclose(preprocessed.numpy()[0, 0, 0], [0.0, 10 / 60, 20 / 60], atol=1e-5)
  np.testing.assert_allclose(preprocessed.numpy()[0, 40, 0], [-2.0, -110 / 60, -100 / 60],
                             atol=1e-5)
  # Inside tf.data (the input pipeline calls model.preprocess there): static output shape.
  dataset = tf.data.Dataset.from_tensors(tf.zeros([30, 50, 3])).map(
      lambda image: tiny_model.preprocess(image[None]))
  assert dataset.element_spec[0].shape == (1, 64, 64, 3)
  _, true_shapes = next(iter(dataset))
  np.testing.assert_array_equal(true_shapes.numpy(), [[38, 64, 3]])


def test_contract_eager_and_graph_agree(tiny_model, make_groundtruth):
  images, gt = _batch(make_groundtruth)

  def run(images):
    preprocessed, true_shapes = tiny_model.preprocess(images)
    predictions = tiny_model.predict(preprocessed, true_shapes, training=False)
    losses = tiny_model.loss(predictions, true_shapes, gt, training=False)
    return losses, tiny_model.postprocess(predictions, true_shapes)

  eager_losses, eager_dets = run(images)
  graph_losses, graph_dets = tf.function(run)(images)
  assert set(eager_losses) == {L.object_center, L.box_scale, L.box_offset}
  assert set(eager_dets) == {D.detection_boxes, D.detection_scores, D.detection_classes,
                             D.num_detections, D.detection_multiclass_scores,
                             D.detection_boxes_strided}
  assert eager_dets[D.detection_boxes].shape == (2, 10, 4)
  assert eager_dets[D.detection_multiclass_scores].shape == (2, 10, 3)
  assert eager_dets[D.num_detections].dtype == tf.int32
  for key in eager_losses:
    np.testing.assert_allclose(eager_losses[key].numpy(), graph_losses[key].numpy(), rtol=1e-4)
  np.testing.assert_allclose(eager_dets[D.detection_scores].numpy(),
                             graph_dets[D.detection_scores].numpy(), rtol=1e-4)
  boxes = eager_dets[D.detection_boxes].numpy()
  assert (boxes >= 0).all() and (boxes <= 1).all()
  # The second half of the 64x64 input is padding: no peak may come from there.
  assert (eager_dets[D.detection_boxes_strided].numpy()[..., 0] <= 8.0).all()


def test_every_trainable_variable_gets_a_gradient_and_zero_gt_is_finite(make_tiny_model,
                                                                      make_groundtruth):
  model = make_tiny_model()
  images, gt = _batch(make_groundtruth)
  empty = make_groundtruth(np.zeros([2, 2, 4]), [[0, 0], [0, 0]], [[0.0, 0.0], [0.0, 0.0]])
  preprocessed, true_shapes = model.preprocess(images)
  for labels in (gt, empty):
    with tf.GradientTape() as tape:
      predictions = model.predict(preprocessed, true_shapes, training=True)
      losses = model.loss(predictions, true_shapes, labels)
      total = tf.add_n(list(losses.values()))
    grads = tape.gradient(total, model.trainable_variables)
    assert np.isfinite(float(total))
    for var, grad in zip(model.trainable_variables, grads):
      assert grad is not None, var.path
      assert np.isfinite(grad.numpy()).all(), var.path
  # With no boxes, the box losses are exactly zero and only the centre background term is left.
  assert float(losses[L.box_scale]) == 0.0 and float(losses[L.box_offset]) == 0.0
  assert len(model.trainable_variables) > 20


def test_restore_map_kinds(tiny_model):
  # pylint: disable=protected-access
  for kind in ("detection", "fine_tune"):  # the original's object graph: model/_feature_extractor
    assert tiny_model.restore_map(kind)["model"]._feature_extractor is tiny_model.feature_extractor
  assert tiny_model.restore_map("full") == {"model": tiny_model}
  with pytest.raises(ValueError, match="no classification backbone"):
    tiny_model.restore_map("classification")
  with pytest.raises(ValueError, match="unknown fine_tune_checkpoint_type"):
    tiny_model.restore_map("bogus")


def test_call_runs_the_whole_contract(tiny_model):
  detections = tiny_model(tf.zeros([1, 48, 48, 3]))
  assert detections[D.detection_scores].shape == (1, 10)
  assert meta_arch.PREPROCESSED_INPUTS == "preprocessed_inputs"


def test_checkpoint_holds_every_variable_and_restores(tmp_path, make_tiny_model):
  # Keras 3 keeps list attributes (stacks of heads, hourglass blocks, the task list) out of
  # TensorFlow's object graph unless CheckpointableCollections exposes them.
  model = make_tiny_model()
  images = tf.random.stateless_uniform([1, 64, 64, 3], seed=(3, 4), maxval=255.0)
  before = model(images)[D.detection_scores]
  path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
  saved = [name for name, _ in tf.train.list_variables(path) if name.startswith("model/")]
  assert len(saved) == len(model.variables)
  assert any("/_tasks/0/center_heads/0/convs/0/" in name for name in saved)
  assert any("/_feature_extractor/_network/hourglass_network/0/encoder_block2/0/" in name
             for name in saved)
  restored = make_tiny_model()
  restored(images)  # build, then restore (Keras 3 layers restore reliably once built)
  tf.train.Checkpoint(model=restored).restore(path).assert_existing_objects_matched()
  np.testing.assert_allclose(restored(images)[D.detection_scores].numpy(), before.numpy(),
                             rtol=1e-5)
