"""Faster R-CNN and Mask R-CNN: our checkpoint keys -> the original's (its Keras 2 object graph).

Table-driven: OUR_PARTS says where each part lives in our model (feature_extractor,
proposal_generator/rpn_head, roi_heads/box_head, roi_heads/mask_head); a change of our module
layout only re-points it. The original's FasterRCNNMetaArch holds:

  _feature_extractor_for_proposal_features       Keras functional model up to the RPN features
                                                 (ResNet: conv1..conv4; IRv2: to block17)
  _feature_extractor_for_box_classifier_features  functional model of the box classifier
                                                 (ResNet: conv5; IRv2: mixed_7a..conv_7b)
  _first_stage_box_predictor_first_conv          Sequential: RPN conv (+ BN) (+ activation)
  _first_stage_box_predictor/_prediction_heads/box_encodings/0/_box_encoder_layers/0
  _first_stage_box_predictor/_prediction_heads/class_predictions_with_background/0/
      _class_predictor_layers/0                  the RPN 1x1 convs
  _mask_rcnn_box_predictor/_box_prediction_head/_box_encoder_layers/K     K = 1 (+1 with dropout):
  _mask_rcnn_box_predictor/_class_prediction_head/_class_predictor_layers/K  after Flatten
  _mask_rcnn_box_predictor/_third_stage_heads/mask_predictions/_mask_predictor_layers/J
      J = 3i (conv i), 3i+1 (its batch norm, when conv_hyperparams has one), 3(n-1) (last conv)
In every Keras functional model, `layer_with_weights-K` numbers the layers with weights in
`model.layers` order (name_map.functional_rule).
"""

import re

from object_detection.conversion import name_map as nm

_BOX_PREDICTOR = "model/_mask_rcnn_box_predictor"
_RPN = "model/_first_stage_box_predictor"
_MASKS = f"{_BOX_PREDICTOR}/_third_stage_heads/mask_predictions/_mask_predictor_layers"

# Where each part lives in OUR model (attribute paths from the model root): re-point here when
# the R-CNN modules move.
OUR_PARTS = {
    "first_stage": "model/feature_extractor/first_stage",
    "second_stage": "model/feature_extractor/second_stage",
    "rpn": "model/proposal_generator/rpn_head",
    "box_head": "model/roi_heads/box_head",
    "mask_head": "model/roi_heads/mask_head",
}


def handles(model):
  """True for our Faster / Mask R-CNN models (a feature extractor, a proposal generator and
  RoI heads, None for an RPN-only model)."""
  return (hasattr(model, "proposal_generator") and hasattr(model, "roi_heads") and
          hasattr(model, "feature_extractor"))


def _extractor_rules(extractor):
  rules = []
  for part, original in (("first_stage", "_feature_extractor_for_proposal_features"),
                         ("second_stage", "_feature_extractor_for_box_classifier_features")):
    functional = getattr(extractor, part, None)
    if functional is None:
      raise ValueError(f"rcnn_names: no checkpoint name map for the feature extractor "
                       f"{type(extractor).__name__} (no {part} functional model)")
    rules.append(nm.functional_rule(OUR_PARTS[part], f"model/{original}", functional))
  return rules


def _rpn_rules(rpn):
  prefix = re.escape(OUR_PARTS["rpn"])
  rules = [nm.Rule(rf"{prefix}/conv/(.*)",
                   rf"{_RPN}_first_conv/layer_with_weights-0/\1"),
           nm.Rule(rf"{prefix}/box_conv/(.*)",
                   rf"{_RPN}/_prediction_heads/box_encodings/0/_box_encoder_layers/0/\1"),
           nm.Rule(rf"{prefix}/class_conv/(.*)",
                   rf"{_RPN}/_prediction_heads/class_predictions_with_background/0/"
                   rf"_class_predictor_layers/0/\1")]
  if getattr(rpn, "norm", None) is not None:
    rules.append(nm.Rule(rf"{prefix}/norm/(.*)", rf"{_RPN}_first_conv/layer_with_weights-1/\1"))
  return rules


def _box_head_rules(box_head):
  if box_head is None:
    return []
  prefix = re.escape(OUR_PARTS["box_head"])
  index = 1 + (box_head.dropout is not None)
  return [nm.Rule(rf"{prefix}/box_dense/(.*)",
                  rf"{_BOX_PREDICTOR}/_box_prediction_head/_box_encoder_layers/{index}/\1"),
          nm.Rule(rf"{prefix}/class_dense/(.*)",
                  rf"{_BOX_PREDICTOR}/_class_prediction_head/_class_predictor_layers/{index}/\1")]


def _mask_head_rules(mask_head):
  if mask_head is None:
    return []
  if not hasattr(mask_head, "convs") or not hasattr(mask_head, "last"):
    # The deep (MG "Deep-MARC") heads have no counterpart in the original API.
    return []
  prefix = re.escape(OUR_PARTS["mask_head"])
  last = 3 * len(mask_head.convs)
  # convs[i] is a ConvNormAct: its conv, then its batch norm (when configured).
  return [nm.Rule(rf"{prefix}/convs/(\d+)/conv/(.*)",
                  lambda m: f"{_MASKS}/{3 * int(m.group(1))}/{m.group(2)}"),
          nm.Rule(rf"{prefix}/convs/(\d+)/norm/(.*)",
                  lambda m: f"{_MASKS}/{3 * int(m.group(1)) + 1}/{m.group(2)}"),
          nm.Rule(rf"{prefix}/last/(.*)", rf"{_MASKS}/{last}/\1")]


def name_map(model):
  """NameMap for a built Faster / Mask R-CNN model of this package."""
  heads = model.roi_heads
  box_head = heads.box_head if heads is not None else None
  mask_head = heads.mask_head if heads is not None else None
  family = "Mask R-CNN" if mask_head is not None else "Faster R-CNN"
  rules = (_extractor_rules(model.feature_extractor) +
           _rpn_rules(model.proposal_generator.rpn_head) + _box_head_rules(box_head) +
           _mask_head_rules(mask_head))
  return nm.NameMap(family, rules)
