"""The R-CNN parts on their own: checkpoint layout (stable prefixes, every variable saved),
loss weights applied by the part that owns the loss, errors naming the config field."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.faster_rcnn import box_head
from object_detection.meta_architectures.faster_rcnn import proposal_generator
from object_detection.meta_architectures.faster_rcnn import roi_heads
from object_detection.meta_architectures.faster_rcnn import rpn
from object_detection.ops import anchors

L = fields.LossNames

PREFIXES = ("model/feature_extractor/", "model/proposal_generator/rpn_head/",
            "model/roi_heads/box_head/", "model/roi_heads/mask_head/")


def test_checkpoint_layout(tiny, tmp_path):
  make_model, _, make_images = tiny
  model = make_model()
  x, shapes = model.preprocess(make_images())
  model.postprocess(model.predict(x, shapes), shapes)
  path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
  keys = {name: shape for name, shape in tf.train.list_variables(path)
          if name.endswith("/.ATTRIBUTES/VARIABLE_VALUE")}
  assert all(name.startswith(PREFIXES) for name in keys), sorted(keys)
  # Every weight is saved once (layers kept in lists included).
  assert sum(int(np.prod(s)) for s in keys.values()) == sum(
      int(np.prod(v.shape)) for v in model.weights)
  suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
  for name, shape in [("model/proposal_generator/rpn_head/conv/_kernel", [3, 3, 8, 8]),
                      ("model/proposal_generator/rpn_head/box_conv/_kernel", [1, 1, 8, 24]),
                      ("model/proposal_generator/rpn_head/class_conv/bias", [12]),
                      ("model/roi_heads/box_head/box_dense/_kernel", [16, 12]),
                      ("model/roi_heads/box_head/class_dense/_kernel", [16, 4]),
                      ("model/roi_heads/mask_head/convs/0/conv/_kernel", [3, 3, 16, 8]),
                      ("model/roi_heads/mask_head/last/_kernel", [3, 3, 8, 3])]:
    assert keys[name + suffix] == shape, name


def test_loss_weights_are_applied_by_their_owner(tiny):
  make_model, make_gt, make_images = tiny
  model = make_model()
  gt = make_gt()
  x, shapes = model.preprocess(make_images())
  tf.random.set_seed(3)
  pred = model.predict(x, shapes, gt, training=True)

  def losses():
    tf.random.set_seed(4)  # the RPN minibatch sampler draws the same sample each time
    return {k: float(v) for k, v in model.loss(pred, shapes, gt).items()}
  base = losses()
  g, h = model.proposal_generator, model.roi_heads
  g.localization_loss_weight, g.objectness_loss_weight = 2.0, 3.0
  h.localization_loss_weight, h.classification_loss_weight, h.mask_loss_weight = 4.0, 5.0, 6.0
  weighted = losses()
  factors = {L.rpn_localization: 2.0, L.rpn_objectness: 3.0,
             L.box_classifier_localization: 4.0, L.box_classifier_classification: 5.0,
             L.box_classifier_mask: 6.0}
  assert set(weighted) == set(factors)
  for name, factor in factors.items():
    np.testing.assert_allclose(weighted[name], factor * base[name], rtol=1e-5)


def _generator(**kwargs):
  return proposal_generator.ProposalGenerator(rpn.RPNHead(3, depth=4),
                                              anchors.GridAnchorParams(), **kwargs)


@pytest.mark.parametrize("make, match", [
    (lambda: _generator(max_proposals=0), r"^first_stage_max_proposals: must be positive"),
    (lambda: _generator(positive_fraction=1.5),
     r"^first_stage_positive_balance_fraction: out of range \(got 1.5"),
    (lambda: roi_heads.RoIHeads(3, box_head.BoxHead(3), number_of_stages=1),
     r"^number_of_stages: the RoI heads run stage 2 or 3 \(got 1"),
    (lambda: roi_heads.RoIHeads(3, box_head.BoxHead(3), number_of_stages=3),
     r"^number_of_stages: 3 recomputes masks"),
    (lambda: roi_heads.RoIHeads(3, box_head.BoxHead(3), crop_size=0),
     r"^initial_crop_size: must be set"),
    (lambda: roi_heads.RoIHeads(3, box_head.BoxHead(3), allowed_masked_classes_ids=(0, 2)),
     r"^allowed_masked_classes_ids: ids out of range \(got \[0\]; expected 1..3\)"),
])
def test_errors_name_the_config_field(make, match):
  with pytest.raises(ValueError, match=match):
    make()
