"""The second (and third) stage of Faster / Mask R-CNN: proposal sampling, RoI feature routing,
the box head and the optional mask head, with their targets, losses and postprocess.

    pred = roi_heads.predict(feature_maps, box_classifier, proposals, num_proposals, windows,
                             (height, width), groundtruth, training)
    losses = roi_heads.loss(pred, groundtruth)   # box classifier (+ mask) losses, weighted
    detections = roi_heads.postprocess(pred)     # DetectionResultFields, true-image frame

RoI features: the box head (and the original's mask head) reads the feature extractor's box
classifier features of crop_and_resize crops (+ max-pool); the deep mask heads read RoIAlign
crops of the proposal feature maps (roi_features.py). The masks are predicted on
  training:  the positive sampled proposals (padded to num_mask_rois: mask_branch.py), or all
             sampled proposals (train_masks_on_positives_only=False, the original), or the
             GT boxes (use_gt_boxes_for_masks);
  inference: the proposals (2 stages) or the final detections (3 stages).
"""

import keras
import tensorflow as tf

from object_detection.core import fields
from object_detection.core import precision
from object_detection.meta_architectures.faster_rcnn import losses as losses_lib
from object_detection.meta_architectures.faster_rcnn import mask_branch
from object_detection.meta_architectures.faster_rcnn import postprocess as post_lib
from object_detection.meta_architectures.faster_rcnn import roi_features
from object_detection.meta_architectures.faster_rcnn import targets as targets_lib

D = fields.DetectionResultFields
L = fields.LossNames


def argument_problems(num_classes, *, has_mask_head, number_of_stages=2, crop_size=14,
                      allowed_masked_classes_ids=()):
  """Problems of RoIHeads arguments, as `<config field>: <problem>` lines (the constructor
  raises the first; builders/faster_rcnn_builder.check reports them all)."""
  problems = []
  if number_of_stages not in (2, 3):
    problems.append(f"number_of_stages: the RoI heads run stage 2 or 3 (got "
                    f"{number_of_stages}; expected 2 or 3)")
  if number_of_stages == 3 and not has_mask_head:
    problems.append("number_of_stages: 3 recomputes masks on the final detections and needs "
                    "predict_instance_masks (got no mask head; expected 2, or a mask head)")
  if crop_size < 1:
    problems.append(f"initial_crop_size: must be set for a second stage (got {crop_size}; "
                    "expected > 0)")
  bad = [i for i in allowed_masked_classes_ids if not 1 <= i <= num_classes]
  if bad:
    problems.append(f"allowed_masked_classes_ids: ids out of range (got {bad}; expected "
                    f"1..{num_classes})")
  return problems


class RoIHeads(keras.layers.Layer):
  """Box (and mask) heads on the proposals.

  Args:
    num_classes: int, K (without background).
    box_head: BoxHead (checkpoint child `box_head`).
    mask_head: a MASK_RCNN_MASK_HEADS layer, or None (checkpoint child `mask_head`).
    number_of_stages: 2, or 3 to predict the masks again on the final detections at inference.
    crop_size: `initial_crop_size`, the crop_and_resize size of box classifier crops.
    maxpool_kernel_size, maxpool_stride: max-pool after the crop (1, 1: none).
    batch_size: proposals sampled per image in training (`second_stage_batch_size`).
    positive_fraction: largest share of positives among them (`second_stage_balance_fraction`).
    nms: postprocess.NMSParams (`second_stage_post_processing`).
    score_fn: [..., K + 1] logits -> scores (`second_stage_post_processing.score_converter`).
    classification_loss_fn: fn(logits [..., K + 1], one-hot) -> [...]
      (`second_stage_classification_loss`).
    localization_loss_weight, classification_loss_weight, mask_loss_weight: the
      `second_stage_*_loss_weight` fields.
    use_gt_boxes_for_masks: train the mask head on the GT boxes.
    allowed_masked_classes_ids: 1-based ids whose masks are supervised (empty: all).
    roi_align_sampling_ratio: RoIAlign samples per bin of the deep mask heads' crops.
    train_masks_on_positives_only: in training on sampled proposals, run the mask head only on
      the positives (num_mask_rois, padded with other sampled proposals): the same loss and
      gradients as on all of them (only positives have mask loss) at ~1/4 of the mask-head
      work, except that batch-norm statistics of a mask head then cover these RoIs only (as
      the Model Garden's Mask R-CNN; docs/DEVIATIONS.md). False: every sampled proposal.
  Raises:
    ValueError: naming the config field of a bad value.
  """

  def __init__(self, num_classes, box_head, mask_head=None, *, number_of_stages=2,
               crop_size=14, maxpool_kernel_size=2, maxpool_stride=2, batch_size=64,
               positive_fraction=0.25, nms=post_lib.NMSParams(),
               score_fn=post_lib.softmax_scores,
               classification_loss_fn=losses_lib.softmax_cross_entropy,
               localization_loss_weight=1.0, classification_loss_weight=1.0,
               mask_loss_weight=1.0, use_gt_boxes_for_masks=False,
               allowed_masked_classes_ids=(), roi_align_sampling_ratio=2,
               train_masks_on_positives_only=True, **kwargs):
    super().__init__(**kwargs)
    problems = argument_problems(
        num_classes, has_mask_head=mask_head is not None, number_of_stages=number_of_stages,
        crop_size=crop_size, allowed_masked_classes_ids=allowed_masked_classes_ids)
    if problems:
      raise ValueError(problems[0])
    self.num_classes = num_classes
    self.box_head = box_head
    self.mask_head = mask_head
    self.number_of_stages = number_of_stages
    self.crop_size = crop_size
    self.maxpool_kernel_size = maxpool_kernel_size
    self.maxpool_stride = maxpool_stride
    self.batch_size = batch_size
    self.positive_fraction = positive_fraction
    self.nms = nms
    self.score_fn = score_fn
    self.classification_loss_fn = classification_loss_fn
    self.localization_loss_weight = localization_loss_weight
    self.classification_loss_weight = classification_loss_weight
    self.mask_loss_weight = mask_loss_weight
    self.use_gt_boxes_for_masks = use_gt_boxes_for_masks
    self.allowed_masked_classes_ids = tuple(allowed_masked_classes_ids)
    self.roi_align_sampling_ratio = roi_align_sampling_ratio
    self.train_masks_on_positives_only = train_masks_on_positives_only

  @property
  def num_mask_rois(self):
    """RoIs per image the mask head runs on when training on sampled proposals: the sampler's
    most positives, floor(batch_size * positive_fraction) (>= 1), or batch_size."""
    if not self.train_masks_on_positives_only:
      return self.batch_size
    return max(1, min(self.batch_size, int(self.batch_size * self.positive_fraction)))

  # -------------------------------------------------------------------- predict
  def predict(self, feature_maps, box_classifier, proposals, num_proposals, windows, image_size,
              groundtruth=None, training=False):
    """Runs the heads; P = proposals (second_stage_batch_size when sampled), M = mask boxes.

    Args:
      feature_maps: list of [B, H_l, W_l, C] float32 maps RoIs are cropped from.
      box_classifier: fn(crops [N, h, w, C], training) -> [N, h', w', C'] box classifier
        features (the feature extractor's second half).
      proposals: [B, P, 4] float32 normalized; num_proposals: [B] int32.
      windows: [B, 4] float32 normalized true-image windows.
      image_size: (height, width) of the padded model input.
      groundtruth: batched labels or None; in training, proposals are sampled against it.
      training: bool.
    Returns:
      dict: proposal_boxes [B, P, 4], num_proposals [B], refined_box_encodings [B, P, Q, 4],
        class_predictions_with_background [B, P, K + 1]; with a mask head mask_predictions
        [B, M, Km, h, w] logits, in training mask_boxes [B, M, 4] (and on the positive
        proposals mask_roi_indices [B, M] int32, M = num_mask_rois), with 3 stages at
        inference `detections` (the NMS output the masks were predicted on).
    """
    if training and groundtruth is not None:
      proposals, num_proposals = self.sample(proposals, num_proposals, groundtruth)
    source = roi_features.RoISource(feature_maps, box_classifier, image_size, training)
    box_features = self._box_features(source, proposals)
    box_codes, class_logits = precision.to_float32(self.box_head(box_features,
                                                                 training=training))
    b, p = tf.shape(proposals)[0], proposals.shape[1]
    pred = {
        "proposal_boxes": proposals,
        "num_proposals": num_proposals,
        "refined_box_encodings": tf.reshape(box_codes, [b, p, box_codes.shape[1], 4]),
        "class_predictions_with_background": tf.reshape(class_logits,
                                                        [b, p, self.num_classes + 1]),
    }
    if self.mask_head is not None:
      pred.update(self._predict_masks(source, pred, box_features, windows, groundtruth))
    return pred

  def sample(self, proposals, num_proposals, groundtruth):
    """The training minibatch of proposals: [B, batch_size, 4] (zeros past num), [B]."""
    gt_boxes, gt_classes, gt_weights = targets_lib.unpack_groundtruth(groundtruth)
    valid = tf.range(proposals.shape[1])[None, :] < num_proposals[:, None]
    return targets_lib.sample_proposals(proposals, valid, gt_boxes, gt_classes, gt_weights,
                                        self.batch_size, self.positive_fraction)

  def _box_features(self, source, boxes):
    return roi_features.box_classifier_features(
        source, boxes, self.crop_size, self.maxpool_kernel_size, self.maxpool_stride)

  def _predict_masks(self, source, pred, box_features, windows, groundtruth):
    proposals = pred["proposal_boxes"]
    if source.training:
      if not self.use_gt_boxes_for_masks:
        if groundtruth is not None and self.train_masks_on_positives_only:  # sampled
          return self._masks_on_positives(source, pred, box_features, groundtruth)
        return {"mask_boxes": proposals,
                "mask_predictions": self._mask_logits(source, proposals, box_features)}
      if groundtruth is None:
        raise ValueError("use_gt_boxes_for_masks: training needs the ground truth (got "
                         "groundtruth=None)")
      boxes = tf.cast(groundtruth[fields.InputDataFields.groundtruth_boxes], tf.float32)
      return {"mask_boxes": boxes, "mask_predictions": self._mask_logits(source, boxes, None)}
    if self.number_of_stages == 3:
      dets = self._detect(pred, windows)
      return {"detections": dets,
              "mask_predictions": self._mask_logits(source, dets["boxes"], None)}
    return {"mask_predictions": self._mask_logits(source, proposals, box_features)}

  def _masks_on_positives(self, source, pred, box_features, groundtruth):
    """Training masks on the positive sampled proposals first (mask_branch.py)."""
    proposals = pred["proposal_boxes"]
    rows = mask_branch.positive_first_indices(proposals, pred["num_proposals"], groundtruth,
                                              self.num_mask_rois)
    boxes = tf.gather(proposals, rows, batch_dims=1)
    if box_features is not None:
      shape = tf.shape(box_features)
      per_image = tf.reshape(box_features, tf.concat([tf.shape(proposals)[:2], shape[1:]], 0))
      box_features = tf.reshape(tf.gather(per_image, rows, batch_dims=1),
                                tf.concat([[-1], shape[1:]], 0))
    return {"mask_boxes": boxes, "mask_roi_indices": rows,
            "mask_predictions": self._mask_logits(source, boxes, box_features)}

  def _mask_logits(self, source, boxes, box_features):
    """[B, M, 4] boxes -> mask logits [B, M, Km, mask_h, mask_w]; `box_features` (of these
    boxes) are reused by heads that read box classifier features."""
    if self.mask_head.input_kind == "box_classifier_features":
      inputs = box_features if box_features is not None else self._box_features(source, boxes)
    else:
      inputs = roi_features.roi_align_features(source, boxes, self.mask_head.roi_crop_size,
                                               self.roi_align_sampling_ratio)
    logits = tf.cast(self.mask_head(inputs, training=source.training), tf.float32)
    b, m = tf.shape(boxes)[0], boxes.shape[1]
    logits = tf.reshape(logits, tf.concat([[b, m], tf.shape(logits)[1:]], 0))
    return tf.transpose(logits, [0, 1, 4, 2, 3])

  # ----------------------------------------------------------------------- loss
  def loss(self, predictions, groundtruth):
    """Weighted box classifier losses (+ the mask loss when masks were predicted in training).

    Args:
      predictions: the dict of `predict` (training).
      groundtruth: batched labels (fields.py).
    Returns:
      {box_classifier_localization, box_classifier_classification[, box_classifier_mask]}.
    """
    gt_boxes, gt_classes, gt_weights = targets_lib.unpack_groundtruth(groundtruth)
    loc, cls, box_targets = losses_lib.box_classifier_loss(
        predictions["refined_box_encodings"], predictions["class_predictions_with_background"],
        predictions["proposal_boxes"], predictions["num_proposals"], gt_boxes, gt_classes,
        gt_weights, self.classification_loss_fn)
    out = {L.box_classifier_localization: loc * self.localization_loss_weight,
           L.box_classifier_classification: cls * self.classification_loss_weight}
    if "mask_predictions" in predictions and "mask_boxes" in predictions:
      out[L.box_classifier_mask] = self.mask_loss_weight * mask_branch.mask_loss(
          predictions, groundtruth, box_targets, self.use_gt_boxes_for_masks,
          self.allowed_masked_classes_ids)
    return out

  # ---------------------------------------------------------------- postprocess
  def _detect(self, pred, windows):
    return post_lib.decode_box_classifier(
        pred["refined_box_encodings"], pred["class_predictions_with_background"],
        pred["proposal_boxes"], pred["num_proposals"], windows, self.nms, self.score_fn)

  def postprocess(self, predictions):
    """Detections keyed by DetectionResultFields, boxes normalized to the true image; masks
    [B, D, h, w] probabilities when they belong to the detections."""
    pred = predictions
    windows = pred["image_windows"]
    dets = pred.get("detections") or self._detect(pred, windows)
    out = post_lib.format_detections(dets["boxes"], dets["scores"], dets["classes"],
                                     dets["num_detections"], windows)
    out[D.detection_multiclass_scores] = tf.gather(dets["raw_scores"], dets["box_indices"],
                                                   batch_dims=1)
    out[D.raw_detection_boxes] = post_lib.to_true_frame(dets["raw_boxes"], windows)
    out[D.raw_detection_scores] = dets["raw_scores"]
    # Training-mode masks on GT boxes or on the positive RoIs do not belong to the
    # detections: no masks then.
    masks_per_proposal = "mask_roi_indices" not in pred and not (
        self.use_gt_boxes_for_masks and "mask_boxes" in pred)
    if "mask_predictions" in pred and masks_per_proposal:
      out[D.detection_masks] = mask_branch.detection_masks(
          pred["mask_predictions"], dets, on_detections="detections" in pred)
    return out
