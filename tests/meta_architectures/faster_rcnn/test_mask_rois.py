"""Training the mask head on the positive sampled RoIs only: the same loss and gradients as on
every sampled RoI (heads without batch statistics), the RoI choice by hand, and the static
shapes."""

import numpy as np
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.faster_rcnn import mask_branch
from object_detection.meta_architectures.faster_rcnn import mask_heads
from object_detection.ops import sampler

D = fields.DetectionResultFields
F = fields.InputDataFields
L = fields.LossNames


def test_positive_first_indices_by_hand():
  gt = {F.groundtruth_boxes: tf.constant([[[0.0, 0.0, 0.5, 0.5]]]),
        F.groundtruth_classes: tf.constant([[[1.0, 0.0]]])}
  # IoU with the GT: 0, 1, 0.81, 0, 1 -> positives 1, 2, 4; proposal 4 is padding (num 4).
  proposals = tf.constant([[[0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.45, 0.45],
                            [0.6, 0.0, 1.0, 0.4], [0.0, 0.0, 0.5, 0.5]]])
  fn = lambda p, n: mask_branch.positive_first_indices(p, n, gt, 4)
  for f in (fn, tf.function(fn)):
    np.testing.assert_array_equal(f(proposals, tf.constant([4])).numpy(), [[1, 2, 0, 3]])
    np.testing.assert_array_equal(f(proposals, tf.constant([5])).numpy(), [[1, 2, 4, 0]])


def _loss_and_grads(model, x, shapes, gt, wrap):
  def step():
    with tf.GradientTape() as tape:
      pred = model.predict(x, shapes, gt, training=True)
      losses = model.loss(pred, shapes, gt)
      total = tf.add_n(list(losses.values()))
    return losses, tape.gradient(total, model.trainable_variables), pred["mask_predictions"]
  return wrap(step)()


def test_masks_on_positives_equal_masks_on_all_sampled_rois(tiny, monkeypatch):
  # The same (seeded, stateless) minibatches in both runs, eager and in a graph.
  balanced_sample = sampler.balanced_sample
  monkeypatch.setattr(sampler, "balanced_sample",
                      lambda ind, labels, size, fraction, seed=None: balanced_sample(
                          ind, labels, size, fraction, seed=3))
  make_model, make_gt, make_images = tiny
  # 16 sampled RoIs per image, at most floor(16 * 0.25) = 4 positives.
  model = make_model(batch_size=16)
  gt = make_gt()
  x, _ = model.preprocess(make_images())
  # True images of 56x56 in the 64x64 input: proposals are clipped inside the map, away from
  # its last row / column, where crop_and_resize's "outside reads 0" rule makes a sample flip
  # with one ulp of rounding (which the graph optimizer's reassociation changes).
  shapes = tf.constant([[56, 56, 3]] * 2)
  assert model.roi_heads.num_mask_rois == 4
  # Exact, well-separated RPN outputs (the anchors, one objectness per anchor shape), so that
  # float noise between graphs cannot reorder near-tied proposals.
  model.predict(x, shapes)
  rpn = model.proposal_generator.rpn_head
  for conv in (rpn.box_conv, rpn.class_conv):
    conv.kernel.assign(tf.zeros_like(conv.kernel))
  rpn.class_conv.bias.assign(tf.range(12, dtype=tf.float32) * 0.1)
  for wrap in (lambda f: f, tf.function):
    model.roi_heads.train_masks_on_positives_only = True
    losses, grads, masks = _loss_and_grads(model, x, shapes, gt, wrap)
    model.roi_heads.train_masks_on_positives_only = False
    all_losses, all_grads, all_masks = _loss_and_grads(model, x, shapes, gt, wrap)
    assert masks.shape == (2, 4, 3, 8, 8) and all_masks.shape == (2, 16, 3, 8, 8)
    assert float(losses[L.box_classifier_mask]) > 0.0        # there are positives
    for name, value in all_losses.items():
      np.testing.assert_allclose(float(losses[name]), float(value), rtol=1e-5, err_msg=name)
    assert len(grads) == len(all_grads) == len(model.trainable_variables)
    for g, g_all, v in zip(grads, all_grads, model.trainable_variables):
      g, g_all = tf.convert_to_tensor(g).numpy(), tf.convert_to_tensor(g_all).numpy()
      np.testing.assert_allclose(g, g_all, rtol=1e-4, atol=1e-6 * max(1.0, np.abs(g_all).max()),
                                 err_msg=v.path)


def test_batch_norm_head_runs_on_the_mask_rois(tiny):
  """A deep head (batch norm) sees only the num_mask_rois RoIs (docs/DEVIATIONS.md); training
  predictions carry no detection masks then (they are not per proposal)."""
  make_model, make_gt, make_images = tiny
  head = mask_heads.DeepMaskHead(mask_heads.MaskHeadParams(3, 8, 8, 2, 4),
                                 mask_heads.ConvStack(2, 4))
  model = make_model(mask_head=head)
  gt = make_gt()
  x, shapes = model.preprocess(make_images())
  pred = model.predict(x, shapes, gt, training=True)
  assert pred["mask_predictions"].shape == (2, 2, 3, 8, 8)
  assert pred["mask_roi_indices"].shape == (2, 2)
  assert np.isfinite(float(model.loss(pred, shapes, gt)[L.box_classifier_mask]))
  assert D.detection_masks not in model.postprocess(pred, shapes)
