"""Faster R-CNN / Mask R-CNN (core/model.py contract).

    features = extractor(image)                    -> RPN -> proposals (NMS, padded)
    [training] proposals sampled against the ground truth (second_stage_batch_size)
    crops = crop_and_resize(features, proposals) + max-pool (multi-level for FPN)
    box head(box classifier(crops))                -> refined boxes, class logits
    mask head(box classifier features | RoIAlign crops) -> mask logits
         on: training - the sampled proposals, or the GT boxes (use_gt_boxes_for_masks);
             inference - the proposals (2 stages) or the final detections (3 stages).

All boxes inside are normalized to the padded model input; exported detection boxes are
normalized to the true (unpadded) image. Shapes are static: proposals are padded to
first_stage_max_proposals (second_stage_batch_size in training), detections to
max_total_detections.
"""

import dataclasses

import tensorflow as tf

from object_detection.core import fields
from object_detection.core import model
from object_detection.core import precision
from object_detection.meta_architectures.faster_rcnn import losses as losses_lib
from object_detection.meta_architectures.faster_rcnn import postprocess as post_lib
from object_detection.meta_architectures.faster_rcnn import targets as targets_lib
from object_detection.ops import anchors as anchors_lib
from object_detection.ops import box_coder
from object_detection.ops import box_ops
from object_detection.ops import nms
from object_detection.ops import roi_align

F = fields.InputDataFields
D = fields.DetectionResultFields
L = fields.LossNames


@dataclasses.dataclass(frozen=True)
class FasterRCNNParams:
  """Plain values of the `faster_rcnn` message (defaults as faster_rcnn.proto)."""
  number_of_stages: int = 2
  anchor_params: object = anchors_lib.GridAnchorParams()
  clip_anchors_to_image: bool = False
  first_stage_minibatch_size: int = 256
  first_stage_positive_balance_fraction: float = 0.5
  first_stage_nms_score_threshold: float = 0.0
  first_stage_nms_iou_threshold: float = 0.7
  first_stage_max_proposals: int = 300
  first_stage_localization_loss_weight: float = 1.0
  first_stage_objectness_loss_weight: float = 1.0
  initial_crop_size: int = 14
  maxpool_kernel_size: int = 2
  maxpool_stride: int = 2
  second_stage_batch_size: int = 64
  second_stage_balance_fraction: float = 0.25
  second_stage_nms: post_lib.NMSParams = post_lib.NMSParams()
  # [..., K + 1] logits -> [..., K + 1] scores (`second_stage_post_processing.score_converter`).
  second_stage_score_fn: object = post_lib.softmax_scores
  second_stage_localization_loss_weight: float = 1.0
  second_stage_classification_loss_weight: float = 1.0
  second_stage_mask_prediction_loss_weight: float = 1.0
  use_gt_boxes_for_masks: bool = False
  allowed_masked_classes_ids: tuple = ()
  roi_align_sampling_ratio: int = 2


# Boxes (best RPN objectness first) kept before the first-stage NMS; see _proposals.
RPN_PRE_NMS_TOP_K = 6000


def _unpack_groundtruth(groundtruth):
  """-> boxes [B, N, 4], one-hot classes [B, N, K] float32, weights [B, N] float32 (default:
  1 for boxes with a class, 0 for padding)."""
  boxes = tf.cast(groundtruth[F.groundtruth_boxes], tf.float32)
  classes = tf.cast(groundtruth[F.groundtruth_classes], tf.float32)
  weights = groundtruth.get(F.groundtruth_weights)
  if weights is None:
    weights = tf.reduce_max(classes, axis=-1)
  return boxes, classes, tf.cast(weights, tf.float32)


class FasterRCNNMetaArch(model.DetectionModel):
  """Faster R-CNN (masks when `mask_head` is given).

  Args:
    num_classes: int, K (without background).
    image_resizer_fn: fn(image [H, W, 3], masks=None) -> (image, masks, true_shape [3]).
    feature_extractor: FasterRCNNFeatureExtractor.
    rpn_head: RPNHead. box_head: BoxHead. mask_head: a MASK_RCNN_MASK_HEADS layer or None.
    params: FasterRCNNParams.
    classification_loss_fn: fn(logits [..., K+1], one-hot targets) -> [...] (default softmax).
  """

  def __init__(self, num_classes, image_resizer_fn, feature_extractor, rpn_head, box_head,
               mask_head=None, params=FasterRCNNParams(),
               classification_loss_fn=losses_lib.softmax_cross_entropy, **kwargs):
    super().__init__(num_classes, **kwargs)
    # keras.Model's Trainer sets `self.loss = None`, hiding the contract's `loss` method.
    self.__dict__.pop("loss", None)
    if params.number_of_stages not in (1, 2, 3):
      raise ValueError(f"FasterRCNNMetaArch: number_of_stages must be 1, 2 or 3 "
                       f"(got {params.number_of_stages})")
    if params.number_of_stages == 3 and mask_head is None:
      raise ValueError("FasterRCNNMetaArch: number_of_stages 3 recomputes masks on the final "
                       "detections and needs predict_instance_masks (got no mask head)")
    self._image_resizer_fn = image_resizer_fn
    self.feature_extractor = feature_extractor
    self.rpn_head = rpn_head
    self.box_head = box_head
    self.mask_head = mask_head
    self.params = params
    self._classification_loss_fn = classification_loss_fn

  # ----------------------------------------------------------------- preprocess
  def preprocess(self, images):
    images = tf.convert_to_tensor(images, tf.float32)
    if self._image_resizer_fn is None:
      shape = tf.shape(images)
      true_shapes = tf.tile(shape[None, 1:4], [shape[0], 1])
      return self.feature_extractor.preprocess(images), tf.cast(true_shapes, tf.int32)

    def resize(image):
      resized, _, true_shape = self._image_resizer_fn(image)
      return resized, tf.cast(true_shape, tf.int32)
    resized, true_shapes = tf.map_fn(
        resize, images, fn_output_signature=(tf.float32, tf.int32))
    return self.feature_extractor.preprocess(resized), true_shapes

  # -------------------------------------------------------------------- predict
  def predict(self, preprocessed_inputs, true_image_shapes, groundtruth=None, training=False):
    """Runs the stages; P = proposals (max_proposals, or second_stage_batch_size in training
    with ground truth), M = boxes the masks are predicted on.

    Args:
      preprocessed_inputs: [B, H, W, 3] float32 from `preprocess`.
      true_image_shapes: [B, 3] int32.
      groundtruth: batched labels (fields.py) or None; used in training to sample the
        second-stage proposals and, with use_gt_boxes_for_masks, as the mask boxes.
      training: bool.
    Returns:
      dict with
        rpn_box_encodings [B, A, 4], rpn_objectness_predictions_with_background [B, A, 2],
        anchors [A, 4] (or [B, A, 4] when clipped) normalized, image_windows [B, 4];
        (2+ stages) proposal_boxes [B, P, 4] normalized, num_proposals [B] int32,
        refined_box_encodings [B, P, Q, 4], class_predictions_with_background [B, P, K + 1];
        (masks) mask_predictions [B, M, Km, h, w] logits; in training mask_boxes [B, M, 4]
        (sampled proposals or GT boxes); with 3 stages at inference `detections` (the NMS
        output the masks were predicted on).
    """
    images = preprocessed_inputs
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
      height, width = tf.shape(images)[1], tf.shape(images)[2]
    windows = box_ops.true_image_windows(true_image_shapes, height, width)
    rpn_maps = self.feature_extractor.extract_proposal_features(images, training=training)
    pred = self._first_stage(rpn_maps, height, width, windows, training)
    feature_maps = self.feature_extractor.features_to_crop(rpn_maps)
    pred["image_windows"] = windows
    if self.params.number_of_stages == 1:
      return pred
    proposals, num_proposals, _ = self._proposals(pred, windows)
    if training and groundtruth is not None:
      gt_boxes, gt_classes, gt_weights = _unpack_groundtruth(groundtruth)
      proposals, num_proposals = targets_lib.sample_proposals(
          proposals, tf.range(proposals.shape[1])[None, :] < num_proposals[:, None],
          gt_boxes, gt_classes, gt_weights, self.params.second_stage_batch_size,
          self.params.second_stage_balance_fraction)
    pred.update(proposal_boxes=proposals, num_proposals=num_proposals)
    box_features = self._box_classifier_features(feature_maps, proposals, height, width,
                                                 training)
    box_codes, class_logits = precision.to_float32(self.box_head(box_features,
                                                                 training=training))
    b, p = tf.shape(proposals)[0], proposals.shape[1]
    pred["refined_box_encodings"] = tf.reshape(box_codes, [b, p, box_codes.shape[1], 4])
    pred["class_predictions_with_background"] = tf.reshape(class_logits,
                                                           [b, p, self.num_classes + 1])
    if self.mask_head is None:
      return pred
    if training:
      if self.params.use_gt_boxes_for_masks:
        if groundtruth is None:
          raise ValueError("FasterRCNNMetaArch.predict: use_gt_boxes_for_masks needs the "
                           "ground truth in training (got groundtruth=None)")
        mask_boxes, reuse = groundtruth[F.groundtruth_boxes], None
      else:
        mask_boxes, reuse = proposals, box_features
      pred["mask_boxes"] = mask_boxes
      pred["mask_predictions"] = self._predict_masks(feature_maps, mask_boxes, height, width,
                                                     reuse, training)
    elif self.params.number_of_stages == 3:
      dets = post_lib.decode_box_classifier(
          pred["refined_box_encodings"], pred["class_predictions_with_background"],
          proposals, num_proposals, windows, self.params.second_stage_nms,
          self.params.second_stage_score_fn)
      pred["detections"] = dets
      pred["mask_predictions"] = self._predict_masks(feature_maps, dets["boxes"], height,
                                                     width, None, training)
    else:
      pred["mask_predictions"] = self._predict_masks(feature_maps, proposals, height, width,
                                                     box_features, training)
    return pred

  def _anchors(self, feature_maps, height, width, windows):
    shapes = [(f.shape[1] or tf.shape(f)[1], f.shape[2] or tf.shape(f)[2])
              for f in feature_maps]
    anchors = box_ops.to_normalized(self.params.anchor_params.generate(shapes), height, width)
    if self.params.clip_anchors_to_image:
      b = tf.shape(windows)[0]
      anchors = box_ops.clip_to_window(tf.broadcast_to(anchors, tf.concat(
          [[b], tf.shape(anchors)], 0)), windows)
    return anchors

  def _first_stage(self, feature_maps, height, width, windows, training):
    """rpn_box_encodings [B, A, 4], rpn_objectness_predictions_with_background [B, A, 2],
    anchors [A, 4] or [B, A, 4] (clipped) normalized."""
    # Heads compute in the layers' dtype (bfloat16 under mixed precision); decoding and losses
    # run in float32.
    box_encodings, objectness = precision.to_float32(self.rpn_head(feature_maps,
                                                                   training=training))
    return {
        "rpn_box_encodings": box_encodings,
        "rpn_objectness_predictions_with_background": objectness,
        "anchors": self._anchors(feature_maps, height, width, windows),
    }

  def _proposals(self, pred, windows):
    """NMS'd proposals [B, max_proposals, 4] (stop_gradient), count [B], scores [B, P]."""
    boxes = box_coder.decode(pred["rpn_box_encodings"], pred["anchors"])
    boxes = tf.stop_gradient(box_ops.clip_to_window(boxes, windows))
    scores = tf.stop_gradient(
        tf.nn.softmax(pred["rpn_objectness_predictions_with_background"])[..., 1])
    num_anchors = boxes.shape[1]
    if num_anchors is not None and num_anchors > RPN_PRE_NMS_TOP_K:
      # Pre-NMS top-k (a deviation from the original, which runs first_stage NMS over every
      # anchor): the padded NMS costs O(N^2 / tile) when few boxes survive (e.g. 102k anchors
      # at 640x640 with collapsed RPN boxes took ~14 s per image on CPU). Keeping the
      # RPN_PRE_NMS_TOP_K best-scoring boxes (py-faster-rcnn: 6000 at test; Detectron/Model
      # Garden: 1000-2000 per FPN level) only changes the result when the NMS would have had
      # to reach past them to fill first_stage_max_proposals. Static shapes are kept.
      scores, top = tf.math.top_k(scores, k=RPN_PRE_NMS_TOP_K, sorted=True)
      boxes = tf.gather(boxes, top, batch_dims=1)
    idx, valid, num = nms.single_class_nms(
        boxes, scores, self.params.first_stage_max_proposals,
        self.params.first_stage_nms_iou_threshold,
        score_threshold=self.params.first_stage_nms_score_threshold - 1e-7)
    proposals = tf.where(valid[..., None], tf.gather(boxes, idx, batch_dims=1), 0.0)
    proposal_scores = tf.where(valid, tf.gather(scores, idx, batch_dims=1), 0.0)
    return proposals, num, proposal_scores

  def _image_size(self, height, width):
    return tf.sqrt(tf.cast(height, tf.float32) * tf.cast(width, tf.float32))

  def _box_classifier_features(self, feature_maps, boxes, height, width, training):
    """[B, M, 4] boxes -> [B*M, h, w, C] box classifier features."""
    p = self.params
    crops = roi_align.multilevel_crop(feature_maps, boxes,
                                      (p.initial_crop_size, p.initial_crop_size),
                                      self._image_size(height, width))
    crops = tf.reshape(crops, tf.concat([[-1], tf.shape(crops)[2:]], 0))
    if p.maxpool_kernel_size > 1 or p.maxpool_stride > 1:
      crops = tf.nn.max_pool2d(crops, p.maxpool_kernel_size, p.maxpool_stride, "VALID")
    return self.feature_extractor.extract_box_classifier_features(crops, training=training)

  def _predict_masks(self, feature_maps, boxes, height, width, box_features, training):
    """[B, M, 4] boxes -> mask logits [B, M, Km, mask_h, mask_w]."""
    if self.mask_head.input_kind == "box_classifier_features":
      if box_features is None:
        box_features = self._box_classifier_features(feature_maps, boxes, height, width,
                                                     training)
      inputs = box_features
    else:
      size = self.mask_head.roi_crop_size
      crops = roi_align.multilevel_crop(feature_maps, boxes, (size, size),
                                        self._image_size(height, width),
                                        sampling_ratio=self.params.roi_align_sampling_ratio)
      inputs = tf.reshape(crops, tf.concat([[-1], tf.shape(crops)[2:]], 0))
    logits = tf.cast(self.mask_head(inputs, training=training), tf.float32)
    b, m = tf.shape(boxes)[0], boxes.shape[1]
    logits = tf.reshape(logits, tf.concat([[b, m], tf.shape(logits)[1:]], 0))
    return tf.transpose(logits, [0, 1, 4, 2, 3])

  # ----------------------------------------------------------------------- loss
  def loss(self, prediction_dict, true_image_shapes, groundtruth, training=True):
    """Returns the weighted RPN, box classifier and mask losses (FEATURES §4)."""
    del true_image_shapes, training
    p = self.params
    gt_boxes, gt_classes, gt_weights = _unpack_groundtruth(groundtruth)
    rpn_loc, rpn_obj = losses_lib.rpn_loss(
        prediction_dict["rpn_box_encodings"],
        prediction_dict["rpn_objectness_predictions_with_background"],
        prediction_dict["anchors"], gt_boxes, gt_weights, p.first_stage_minibatch_size,
        p.first_stage_positive_balance_fraction)
    out = {L.rpn_localization: rpn_loc * p.first_stage_localization_loss_weight,
           L.rpn_objectness: rpn_obj * p.first_stage_objectness_loss_weight}
    if p.number_of_stages == 1:
      return out
    loc, cls, t = losses_lib.box_classifier_loss(
        prediction_dict["refined_box_encodings"],
        prediction_dict["class_predictions_with_background"],
        prediction_dict["proposal_boxes"], prediction_dict["num_proposals"], gt_boxes,
        gt_classes, gt_weights, self._classification_loss_fn)
    out[L.box_classifier_localization] = loc * p.second_stage_localization_loss_weight
    out[L.box_classifier_classification] = cls * p.second_stage_classification_loss_weight
    if "mask_predictions" in prediction_dict and "mask_boxes" in prediction_dict:
      out[L.box_classifier_mask] = p.second_stage_mask_prediction_loss_weight * self._mask_loss(
          prediction_dict, groundtruth, gt_classes, gt_weights, t)
    return out

  def _mask_loss(self, pred, groundtruth, gt_classes, gt_weights, box_targets):
    if F.groundtruth_instance_masks not in groundtruth:
      raise ValueError("FasterRCNNMetaArch.loss: the mask head needs "
                       f"groundtruth['{F.groundtruth_instance_masks}'] (got none)")
    logits = pred["mask_predictions"]
    size = (logits.shape[3], logits.shape[4])
    boxes = pred["mask_boxes"]
    allowed = list(self.params.allowed_masked_classes_ids)
    if self.params.use_gt_boxes_for_masks:
      n = boxes.shape[1]
      gt_idx = tf.broadcast_to(tf.range(n)[None, :], tf.shape(gt_weights))
      onehot = gt_classes
      weights = gt_weights * targets_lib.allowed_class_weights(gt_classes, allowed)
    else:
      gt_idx = box_targets["matches"]
      onehot = box_targets["class_targets"][..., 1:]
      weights = (box_targets["reg_weights"] * box_targets["valid"] *
                 targets_lib.allowed_class_weights(onehot, allowed))
    mask_weights = groundtruth.get(F.groundtruth_instance_mask_weights)
    if mask_weights is not None:  # per-instance mask weights of the matched GT (0 = no mask)
      per_box = tf.gather(tf.cast(mask_weights, tf.float32), tf.maximum(gt_idx, 0), batch_dims=1)
      weights = weights * per_box
    targets = targets_lib.mask_targets(groundtruth[F.groundtruth_instance_masks], gt_idx,
                                       boxes, size)
    return losses_lib.mask_loss(logits, targets, onehot, weights)

  # ---------------------------------------------------------------- postprocess
  def postprocess(self, prediction_dict, true_image_shapes):
    """Detections keyed by DetectionResultFields; boxes normalized to the true image."""
    pred = prediction_dict
    windows = pred["image_windows"]
    if self.params.number_of_stages == 1:
      return self._postprocess_rpn(pred, true_image_shapes)
    dets = pred.get("detections") or post_lib.decode_box_classifier(
        pred["refined_box_encodings"], pred["class_predictions_with_background"],
        pred["proposal_boxes"], pred["num_proposals"], windows, self.params.second_stage_nms,
        self.params.second_stage_score_fn)
    out = self._format(dets["boxes"], dets["scores"], dets["classes"], dets["num_detections"],
                       windows)
    out[D.detection_multiclass_scores] = tf.gather(dets["raw_scores"], dets["box_indices"],
                                                   batch_dims=1)
    out[D.raw_detection_boxes] = self._to_true_frame(dets["raw_boxes"], windows)
    out[D.raw_detection_scores] = dets["raw_scores"]
    # Training-mode masks on GT boxes do not belong to the detections: no masks then.
    masks_per_proposal = not (self.params.use_gt_boxes_for_masks and "mask_boxes" in pred)
    if "mask_predictions" in pred and masks_per_proposal:
      masks = pred["mask_predictions"]
      if "detections" not in pred:  # 2 stages: masks of the kept proposals
        masks = tf.gather(masks, dets["box_indices"], batch_dims=1)
      if masks.shape[2] == 1:
        masks = masks[:, :, 0]
      else:
        masks = tf.gather(masks, dets["classes"], axis=2, batch_dims=2)
      valid = tf.range(masks.shape[1])[None, :] < dets["num_detections"][:, None]
      out[D.detection_masks] = tf.where(valid[..., None, None], tf.sigmoid(masks), 0.0)
    return out

  def _postprocess_rpn(self, pred, true_image_shapes):
    """1 stage: the proposals are the detections (class 0, objectness scores)."""
    del true_image_shapes
    windows = pred["image_windows"]
    proposals, num, scores = self._proposals(pred, windows)
    classes = tf.zeros(tf.shape(scores), tf.int32)
    return self._format(proposals, scores, classes, num, windows)

  def _to_true_frame(self, boxes, windows):
    return tf.clip_by_value(box_ops.change_coordinate_frame(boxes, windows), 0.0, 1.0)

  def _format(self, boxes, scores, classes, num, windows):
    valid = tf.range(boxes.shape[1])[None, :] < num[:, None]
    boxes = tf.where(valid[..., None], self._to_true_frame(boxes, windows), 0.0)
    return {D.detection_boxes: boxes, D.detection_scores: scores,
            D.detection_classes: tf.cast(classes, tf.float32), D.num_detections: num}

  # ---------------------------------------------------------------- checkpoints
  def restore_map(self, fine_tune_checkpoint_type="detection"):
    """'detection'/'fine_tune': the feature extractor of a detection checkpoint;
    'classification': the backbone halves; 'full': the whole model."""
    if fine_tune_checkpoint_type == "full":
      return {"model": self}
    if fine_tune_checkpoint_type in ("detection", "fine_tune"):
      # Training checkpoints hold the model under "model" (training/checkpoints.py).
      return {"model": tf.train.Checkpoint(feature_extractor=self.feature_extractor)}
    if fine_tune_checkpoint_type == "classification":
      return self.feature_extractor.restore_map("classification")
    raise ValueError(f"FasterRCNNMetaArch.restore_map: unknown fine_tune_checkpoint_type "
                     f"(got {fine_tune_checkpoint_type!r}; expected classification, detection, "
                     "fine_tune or full)")
