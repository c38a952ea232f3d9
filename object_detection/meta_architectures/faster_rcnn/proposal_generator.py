"""The first stage of Faster / Mask R-CNN: anchors, the RPN head, box decoding, pre-NMS top-k,
NMS, the RPN targets and loss, and (1-stage models) the proposals as detections.

    pred = generator.predict(feature_maps, (height, width), windows, training)
    proposals, num_proposals, scores = generator.proposals(pred, windows)   # static shapes
    losses = generator.loss(pred, groundtruth)         # {rpn_localization, rpn_objectness}
    detections = generator.postprocess(pred)           # 1 stage: the proposals, class 0

Boxes are normalized to the padded model input; `windows` [B, 4] are the true-image windows in
that frame (box_ops.true_image_windows).
"""

import keras
import tensorflow as tf

from object_detection.core import fields
from object_detection.core import precision
from object_detection.meta_architectures.faster_rcnn import losses as losses_lib
from object_detection.meta_architectures.faster_rcnn import postprocess as post_lib
from object_detection.meta_architectures.faster_rcnn import targets as targets_lib
from object_detection.ops import box_coder
from object_detection.ops import box_ops
from object_detection.ops import nms

L = fields.LossNames

# Boxes (best RPN objectness first) kept before the first-stage NMS (a deviation from the
# original, which runs first-stage NMS over every anchor): the padded NMS costs O(N^2 / tile)
# when few boxes survive (102k anchors at 640x640 with collapsed RPN boxes took ~14 s per image
# on CPU). py-faster-rcnn keeps 6000 at test; Detectron / Model Garden 1000-2000 per FPN level.
# It only changes the result when the NMS would have had to reach past these boxes to fill
# first_stage_max_proposals. docs/DEVIATIONS.md.
DEFAULT_PRE_NMS_TOP_K = 6000


def argument_problems(*, max_proposals=300, positive_fraction=0.5):
  """Problems of ProposalGenerator arguments, as `<config field>: <problem>` lines (the
  constructor raises the first; builders/faster_rcnn_builder.check reports them all)."""
  problems = []
  if max_proposals < 1:
    problems.append(f"first_stage_max_proposals: must be positive (got {max_proposals}; "
                    "expected >= 1)")
  if not 0.0 <= positive_fraction <= 1.0:
    problems.append(f"first_stage_positive_balance_fraction: out of range (got "
                    f"{positive_fraction}; expected 0 to 1)")
  return problems


class ProposalGenerator(keras.layers.Layer):
  """Region proposal network with its anchors, targets, loss and postprocess.

  Args:
    rpn_head: RPNHead (checkpoint child `rpn_head`).
    anchor_generator: ops/anchors.py GridAnchorParams or MultiscaleAnchorParams (anything with
      `generate(list of (h, w)) -> [A, 4]` absolute boxes of the model input).
    clip_anchors_to_image: clip the anchors to each true-image window.
    minibatch_size: anchors sampled per image for the loss (`first_stage_minibatch_size`).
    positive_fraction: largest share of positives in it
      (`first_stage_positive_balance_fraction`).
    nms_score_threshold, nms_iou_threshold: `first_stage_nms_score_threshold`,
      `first_stage_nms_iou_threshold`.
    max_proposals: proposals kept per image (`first_stage_max_proposals`).
    pre_nms_top_k: boxes entering the NMS (see DEFAULT_PRE_NMS_TOP_K).
    localization_loss_weight, objectness_loss_weight: `first_stage_localization_loss_weight`,
      `first_stage_objectness_loss_weight`.
  Raises:
    ValueError: naming the config field of a bad value.
  """

  def __init__(self, rpn_head, anchor_generator, *, clip_anchors_to_image=False,
               minibatch_size=256, positive_fraction=0.5, nms_score_threshold=0.0,
               nms_iou_threshold=0.7, max_proposals=300, pre_nms_top_k=DEFAULT_PRE_NMS_TOP_K,
               localization_loss_weight=1.0, objectness_loss_weight=1.0, **kwargs):
    super().__init__(**kwargs)
    problems = argument_problems(max_proposals=max_proposals,
                                 positive_fraction=positive_fraction)
    if problems:
      raise ValueError(problems[0])
    self.rpn_head = rpn_head
    self.anchor_generator = anchor_generator
    self.clip_anchors_to_image = clip_anchors_to_image
    self.minibatch_size = minibatch_size
    self.positive_fraction = positive_fraction
    self.nms_score_threshold = nms_score_threshold
    self.nms_iou_threshold = nms_iou_threshold
    self.max_proposals = max_proposals
    self.pre_nms_top_k = pre_nms_top_k
    self.localization_loss_weight = localization_loss_weight
    self.objectness_loss_weight = objectness_loss_weight

  def predict(self, feature_maps, image_size, windows, training=False):
    """Runs the RPN head and lays out the anchors.

    Args:
      feature_maps: list of [B, H_l, W_l, C] float32 proposal feature maps.
      image_size: (height, width) of the padded model input (ints or scalar tensors).
      windows: [B, 4] float32 normalized true-image windows.
      training: bool.
    Returns:
      dict: rpn_box_encodings [B, A, 4] float32, rpn_objectness_predictions_with_background
        [B, A, 2] float32 logits, anchors [A, 4] (or [B, A, 4] when clipped) normalized.
    """
    # Heads compute in the layers' dtype (bfloat16 under mixed precision); decoding and losses
    # run in float32.
    box_encodings, objectness = precision.to_float32(self.rpn_head(feature_maps,
                                                                   training=training))
    return {
        "rpn_box_encodings": box_encodings,
        "rpn_objectness_predictions_with_background": objectness,
        "anchors": self._anchors(feature_maps, image_size, windows),
    }

  def _anchors(self, feature_maps, image_size, windows):
    shapes = [(f.shape[1] or tf.shape(f)[1], f.shape[2] or tf.shape(f)[2])
              for f in feature_maps]
    anchors = box_ops.to_normalized(self.anchor_generator.generate(shapes), *image_size)
    if self.clip_anchors_to_image:
      b = tf.shape(windows)[0]
      anchors = box_ops.clip_to_window(
          tf.broadcast_to(anchors, tf.concat([[b], tf.shape(anchors)], 0)), windows)
    return anchors

  def proposals(self, predictions, windows):
    """Decoded, clipped, NMS'd proposals (no gradient).

    Args:
      predictions: the dict of `predict`.
      windows: [B, 4] float32 normalized true-image windows.
    Returns:
      boxes [B, max_proposals, 4] float32 normalized (zeros past num), num [B] int32,
      scores [B, max_proposals] float32 objectness probabilities (0 past num).
    """
    boxes = box_coder.decode(predictions["rpn_box_encodings"], predictions["anchors"])
    boxes = tf.stop_gradient(box_ops.clip_to_window(boxes, windows))
    scores = tf.stop_gradient(
        tf.nn.softmax(predictions["rpn_objectness_predictions_with_background"])[..., 1])
    num_anchors = boxes.shape[1]
    if num_anchors is not None and num_anchors > self.pre_nms_top_k:
      scores, top = tf.math.top_k(scores, k=self.pre_nms_top_k, sorted=True)
      boxes = tf.gather(boxes, top, batch_dims=1)
    idx, valid, num = nms.single_class_nms(boxes, scores, self.max_proposals,
                                           self.nms_iou_threshold,
                                           score_threshold=self.nms_score_threshold - 1e-7)
    proposals = tf.where(valid[..., None], tf.gather(boxes, idx, batch_dims=1), 0.0)
    proposal_scores = tf.where(valid, tf.gather(scores, idx, batch_dims=1), 0.0)
    return proposals, num, proposal_scores

  def loss(self, predictions, groundtruth):
    """{rpn_localization, rpn_objectness}: weighted RPN losses (FEATURES §4).

    Args:
      predictions: the dict of `predict`.
      groundtruth: batched labels (fields.py).
    """
    gt_boxes, _, gt_weights = targets_lib.unpack_groundtruth(groundtruth)
    loc, obj = losses_lib.rpn_loss(
        predictions["rpn_box_encodings"],
        predictions["rpn_objectness_predictions_with_background"], predictions["anchors"],
        gt_boxes, gt_weights, self.minibatch_size, self.positive_fraction)
    return {L.rpn_localization: loc * self.localization_loss_weight,
            L.rpn_objectness: obj * self.objectness_loss_weight}

  def postprocess(self, predictions):
    """1 stage: the proposals are the detections (class 0, objectness scores), boxes
    normalized to the true image (DetectionResultFields)."""
    windows = predictions["image_windows"]
    proposals, num, scores = self.proposals(predictions, windows)
    classes = tf.zeros(tf.shape(scores), tf.int32)
    return post_lib.format_detections(proposals, scores, classes, num, windows)
