"""The DeepMAC mask task of CenterNet: embedding heads, RoIAlign crops, mask head, losses.

Prediction keys (lists with one tensor per backbone output):
  INSTANCE_EMBEDDING: [B, h, w, dim] float32, gathered at each box centre.
  PIXEL_EMBEDDING: [B, h, w, pixel_embedding_dim] float32, cropped per box (RoIAlign).

Training (inside `loss`, from these embeddings and the explicit ground truth): mask logits are
computed on the GROUND-TRUTH boxes (jittered when max_roi_jitter_ratio > 0; the GT masks are
cropped with the same boxes). Inference (`postprocess`): on the detected boxes of the earlier
tasks -> `detection_masks` [B, K, S, S] probabilities in the frame of each box.
"""

import tensorflow as tf

from object_detection.core import fields
from object_detection.losses import classification
from object_detection.meta_architectures.center_net import heads
from object_detection.meta_architectures.center_net.task import CenterNetTask
from object_detection.meta_architectures.deepmac import augment
from object_detection.meta_architectures.deepmac import compaction
from object_detection.meta_architectures.deepmac import losses
from object_detection.ops import box_jitter
from object_detection.ops import color
from object_detection.ops import mask_ops

INSTANCE_EMBEDDING = "deepmac/instance_embedding"
PIXEL_EMBEDDING = "deepmac/pixel_embedding"

_GT = fields.InputDataFields
_LOSS = fields.LossNames
_DET = fields.DetectionResultFields


def make_embedding_head(out_channels):
  """Conv(256, [1, 3], ReLU) + Conv1x1(out_channels): the original's make_prediction_net(dim).

  Kernel choice: the original calls make_prediction_net without `unit_height_conv`, whose
  default is True, so its hidden conv is [1, 3] (not 3x3 as CenterNet's own heads). The
  original's whole-model counts pin this: DeepMAC-1024 = 239,322,397 trainable parameters =
  CenterNet HG-104 (191,289,148) + HG-100 mask head (47,221,121) + 2 stacks x 406,064 ([1, 3]
  instance + pixel heads); 3x3 kernels would add 1.57 M. We keep [1, 3] for parity with the
  released checkpoints.
  """
  return heads.make_prediction_net(out_channels, kernel_sizes=(3,), num_filters=(256,),
                                   unit_height_conv=True)


class DeepMACTask(CenterNetTask):
  """DeepMAC mask estimation as a CenterNet task.

  In `loss`, the mask network runs on the real instances only (compaction.py);
  `compact_instances = False` (attribute) runs it on every padded slot, as the original.

  Args (settings named as the DeepMACMaskEstimation fields; FEATURES.md §1.4):
    num_classes: int, number of classes (columns of the one-hot GT classes).
    num_feature_outputs: int, backbone outputs (2 for hourglass_104).
    mask_net: mask_networks.MaskHeadNetwork (already built from its network_type).
    dim, pixel_embedding_dim: int, instance / pixel embedding sizes.
    mask_size: int, RoIAlign crop size S (crop mode).
    use_xy: bool, append the 2 coordinate channels to the mask inputs.
    predict_full_resolution_masks: bool, run the mask head on the whole feature map.
    postprocess_crop_size: int, output mask size with full-resolution masks.
    allowed_masked_classes_ids: 1-based label ids whose masks supervise the mask loss (empty:
      all classes). Ids must lie in 1..num_classes.
    use_only_last_stage: bool, losses on the last backbone output only.
    max_roi_jitter_ratio, roi_jitter_mode: training-time jitter of the crop boxes
      (ops/box_jitter.py modes).
    ignore_per_class_box_overlap: bool, zero the mask logits where boxes of one class overlap.
    classification_loss: `fn(prediction, target, weights)` of losses/classification.py
      (weighted_sigmoid or weighted_dice), for the mask and box-consistency losses.
    task_loss_weight: float, weight of the mask loss (0 turns it off).
    box_consistency, color_consistency, self_supervision: losses.BoxConsistency /
      ColorConsistency / SelfSupervision, or None when off.
  """

  compact_instances = True

  def __init__(self, num_classes, num_feature_outputs, mask_net, *, dim=256,
               pixel_embedding_dim=16, mask_size=32, use_xy=True,
               predict_full_resolution_masks=False, postprocess_crop_size=256,
               allowed_masked_classes_ids=(), use_only_last_stage=False,
               max_roi_jitter_ratio=0.0, roi_jitter_mode="default",
               ignore_per_class_box_overlap=False,
               classification_loss=classification.weighted_sigmoid, task_loss_weight=1.0,
               box_consistency=None, color_consistency=None, self_supervision=None, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.num_feature_outputs = num_feature_outputs
    self.mask_size = mask_size
    self.use_xy = use_xy
    self.predict_full_resolution_masks = predict_full_resolution_masks
    self.postprocess_crop_size = postprocess_crop_size
    self.allowed_masked_classes_ids = tuple(int(i) for i in allowed_masked_classes_ids)
    self.use_only_last_stage = use_only_last_stage
    self.max_roi_jitter_ratio = max_roi_jitter_ratio
    self.roi_jitter_mode = roi_jitter_mode
    self.ignore_per_class_box_overlap = ignore_per_class_box_overlap
    self.classification_loss = classification_loss
    self.box_consistency = box_consistency
    self.color_consistency = color_consistency
    self.self_supervision = self_supervision
    bad = [i for i in self.allowed_masked_classes_ids if not 1 <= i <= num_classes]
    if bad:
      raise ValueError(f"DeepMACTask: allowed_masked_classes_ids out of range (got {bad}; "
                       f"expected 1..{num_classes})")
    self._weights = {name: weight for name, weight in (
        (_LOSS.deep_mask_estimation, task_loss_weight),
        (_LOSS.deep_mask_box_consistency, box_consistency and box_consistency.weight),
        (_LOSS.deep_mask_color_consistency, color_consistency and color_consistency.weight),
        (_LOSS.deep_mask_augmented_self_supervision,
         self_supervision and self_supervision.weight)) if weight}
    self.instance_heads = [make_embedding_head(dim) for _ in range(num_feature_outputs)]
    self.pixel_heads = [make_embedding_head(pixel_embedding_dim)
                        for _ in range(num_feature_outputs)]
    self.mask_net = mask_net
    allowed = [0.0] * num_classes
    for label_id in self.allowed_masked_classes_ids or range(1, num_classes + 1):
      allowed[label_id - 1] = 1.0
    self._allowed = tf.constant(allowed, tf.float32)

  # ------------------------------------------------------------------------------- predict
  def predict(self, features, training=False):
    return {
        INSTANCE_EMBEDDING: [h(f, training=training) for h, f in zip(self.instance_heads,
                                                                     features)],
        PIXEL_EMBEDDING: [h(f, training=training) for h, f in zip(self.pixel_heads, features)],
    }

  def _stacks(self, predictions):
    pairs = list(zip(predictions[INSTANCE_EMBEDDING], predictions[PIXEL_EMBEDDING]))
    return pairs[-1:] if self.use_only_last_stage else pairs

  def mask_logits_from_boxes(self, instance_embedding, pixel_embedding, boxes, training=False,
                             valid=None):
    """Mask logits for boxes on one backbone output.

    Args:
      instance_embedding: [B, h, w, dim] float32.
      pixel_embedding: [B, h, w, P] float32.
      boxes: [B, N, 4] float32 normalized to the padded input image.
      valid: optional [B, N] bool: run the mask network on these boxes only (the others get
        zero logits; compaction.map_valid).
    Returns:
      [B, N, S, S] float32 logits in the frame of each box (crop mode), or [B, N, h, w] in the
      padded-image frame (predict_full_resolution_masks).
    """
    batch, num = tf.shape(boxes)[0], tf.shape(boxes)[1]
    height, width = tf.shape(pixel_embedding)[1], tf.shape(pixel_embedding)[2]
    if self.predict_full_resolution_masks:
      crops = tf.tile(pixel_embedding[:, None], [1, num, 1, 1, 1])
      ys = tf.linspace(0.0, 1.0, height)
      xs = tf.linspace(0.0, 1.0, width)
      ycenter = (boxes[..., 0] + boxes[..., 2]) / 2.0
      xcenter = (boxes[..., 1] + boxes[..., 3]) / 2.0
      ygrid = tf.tile(ys[None, None, :, None] - ycenter[..., None, None], [1, 1, 1, width])
      xgrid = tf.tile(xs[None, None, None, :] - xcenter[..., None, None], [1, 1, height, 1])
      coords = tf.stack([ygrid, xgrid], axis=-1)
    else:
      size = self.mask_size
      crops = mask_ops.crop_features_to_boxes(pixel_embedding, boxes, size)
      ys, xs = tf.meshgrid(tf.linspace(-1.0, 1.0, size), tf.linspace(-1.0, 1.0, size),
                           indexing="ij")
      coords = tf.tile(tf.stack([ys, xs], axis=-1)[None, None], [batch, num, 1, 1, 1])
    inputs = tf.concat([coords, crops], axis=-1) if self.use_xy else crops
    out_h = inputs.shape[2] if inputs.shape[2] is not None else tf.shape(inputs)[2]
    out_w = inputs.shape[3] if inputs.shape[3] is not None else tf.shape(inputs)[3]
    inputs = tf.reshape(inputs, [batch * num, out_h, out_w, inputs.shape[-1]])
    centres = gather_at_box_centres(instance_embedding, boxes)
    centres = tf.reshape(centres, [batch * num, instance_embedding.shape[-1]])
    if valid is None:
      logits = self.mask_net(centres, inputs, training=training)
    else:
      logits = compaction.map_valid(lambda c, x: self.mask_net(c, x, training=training),
                                    tf.reshape(valid, [-1]), centres, inputs)
    return tf.reshape(logits, [batch, num, out_h, out_w])

  # ---------------------------------------------------------------------------------- loss
  def loss(self, predictions, groundtruth, context):
    """DeepMAC losses on the ground-truth boxes (see the module docstring).

    Mask loss: × (gt weight · allowed-class flag), Σ / max(Σ those weights, 1); weak losses:
    × gt weight, Σ / max(Σ gt weights, 1); then the mean over the stacks used, × the weight.
    Only losses with a weight > 0 are returned (as the original).
    """
    training = bool(context.training)
    # Padded box slots (weight 0) carry no loss: drop the trailing ones and run the mask
    # network on the real instances only (compaction.py), unless compact_instances is False.
    compact = self.compact_instances
    gt = _unpack_groundtruth(groundtruth, truncate=compact and not compaction.in_xla_context())
    valid = gt["weights"] > 0.0 if compact else None
    crop_boxes = gt["boxes"]
    if training and self.max_roi_jitter_ratio > 0.0:
      crop_boxes = tf.reshape(box_jitter.random_jitter_boxes(
          tf.reshape(gt["boxes"], [-1, 4]), self.max_roi_jitter_ratio, self.roi_jitter_mode),
          tf.shape(gt["boxes"]))
    targets = None
    if gt["masks"] is not None:
      targets = (gt["masks"] if self.predict_full_resolution_masks
                 else losses.crop_mask_targets(gt["masks"], crop_boxes, self.mask_size))
    allowed = tf.reduce_sum(gt["classes"] * self._allowed, axis=-1)
    instance_weights = {name: gt["weights"] for name in self._loss_weights()}
    instance_weights[_LOSS.deep_mask_estimation] = gt["weights"] * tf.cast(allowed > 0.0,
                                                                          tf.float32)
    aug_targets = (self._augmented_targets(crop_boxes, context, valid)
                   if self._active(_LOSS.deep_mask_augmented_self_supervision) else None)
    consistency_map = (self._consistency_map(context)
                       if self._active(_LOSS.deep_mask_color_consistency) else None)
    stacks = self._stacks(predictions)
    totals = {name: 0.0 for name in self._loss_weights()}
    for stack_index, (instance_embedding, pixel_embedding) in enumerate(stacks):
      logits = self.mask_logits_from_boxes(instance_embedding, pixel_embedding, crop_boxes,
                                           training=training, valid=valid)
      per_instance = self._per_instance_losses(
          logits, gt, crop_boxes, targets, consistency_map,
          None if aug_targets is None else aug_targets[stack_index], context)
      for name, value in per_instance.items():
        w = instance_weights[name]
        totals[name] += tf.reduce_sum(value * w) / tf.maximum(tf.reduce_sum(w), 1.0)
    return {name: tf.convert_to_tensor(totals[name] / float(len(stacks)) * weight, tf.float32)
            for name, weight in self._loss_weights().items()}

  def _per_instance_losses(self, logits, gt, crop_boxes, targets, consistency_map, aug_targets,
                           context):
    """{loss name: [B, N]} for the active losses, from one stack's mask logits [B, N, h, w]."""
    full_res = self.predict_full_resolution_masks
    height, width = logits.shape[2], logits.shape[3]
    out = {}
    if targets is None:       # no mask labels at all: 0, as the original
      out[_LOSS.deep_mask_estimation] = tf.zeros_like(gt["weights"])
    else:
      loss_logits = losses.resize_like(logits, targets)
      if self.ignore_per_class_box_overlap:
        # Parity quirk: the original multiplies the LOGITS by 0 there (p = 0.5 still counts).
        loss_logits *= losses.per_instance_no_class_overlap(
            gt["classes"], gt["boxes"], None if full_res else crop_boxes, targets.shape[2],
            targets.shape[3])
      out[_LOSS.deep_mask_estimation] = losses.mask_loss(self.classification_loss, loss_logits,
                                                         targets)
    box_masks = (losses.fill_boxes(gt["boxes"], height, width) if full_res else
                 losses.fill_boxes_in_crop_frame(gt["boxes"], crop_boxes, height))
    box = self.box_consistency
    if self._active(_LOSS.deep_mask_box_consistency):
      out[_LOSS.deep_mask_box_consistency] = losses.box_consistency_loss(
          self.classification_loss, logits, box_masks, box.normalize, box.tightness)
    if consistency_map is not None:
      color = self.color_consistency
      similarity = self._similarity(consistency_map, crop_boxes, height, width)
      loss = losses.color_consistency_loss(logits, similarity, box_masks, color.threshold,
                                           color.dilation)
      if context.training:
        loss *= losses.warmup_weight(context.step, color.warmup_start, color.warmup_steps)
      out[_LOSS.deep_mask_color_consistency] = loss
    if aug_targets is not None:
      selfsup = self.self_supervision
      loss = losses.self_supervision_loss(selfsup.loss, logits, aug_targets, box_masks)
      if context.training:
        loss *= losses.warmup_weight(context.step, selfsup.warmup_start, selfsup.warmup_steps)
      out[_LOSS.deep_mask_augmented_self_supervision] = loss
    return {k: v for k, v in out.items() if self._active(k)}

  def _loss_weights(self):
    """{loss name: weight} of the losses that are on (weight > 0), as the original."""
    return {k: v for k, v in self._weights.items() if v > 0.0}

  def _active(self, name):
    return name in self._loss_weights()

  def _consistency_map(self, context):
    """[B, H, W, C] stop-gradient map whose pixel similarity drives the colour term."""
    if self.color_consistency.feature_map:
      if not context.features:
        raise ValueError("DeepMACTask: consistency_feature_map needs context.features")
      return tf.stop_gradient(tf.cast(context.features[-1], tf.float32))
    if context.unnormalize_fn is None:
      raise ValueError("DeepMACTask: the colour-consistency loss needs context.unnormalize_fn "
                       "(to recover RGB from the preprocessed inputs)")
    rgb = context.unnormalize_fn(context.preprocessed_inputs) / 255.0
    return tf.stop_gradient(color.rgb_to_lab(rgb))

  def _similarity(self, consistency_map, crop_boxes, height, width):
    """[8, B, N|1, height, width] neighbour similarity in the mask frame."""
    color = self.color_consistency
    if self.predict_full_resolution_masks:
      resized = tf.image.resize(consistency_map, (height, width))
      return losses.pixel_similarity(resized, color.dilation, color.comparison)[:, :, None]
    crops = mask_ops.crop_features_to_boxes(consistency_map, crop_boxes, height)
    return losses.pixel_similarity(crops, color.dilation, color.comparison)

  def _augmented_targets(self, crop_boxes, context, valid=None):
    """De-augmented, stop-gradient mask logits from a second forward pass (one per stack)."""
    selfsup = self.self_supervision
    if context.predict_fn is None:
      raise ValueError("DeepMACTask: augmented self-supervision needs context.predict_fn "
                       "(a second forward pass on the augmented images)")
    images = context.preprocessed_inputs
    aug = augment.sample_augmentation(
        tf.shape(images)[0], selfsup.max_translation, selfsup.scale_min, selfsup.scale_max,
        selfsup.flip_probability)
    aug_images, aug_boxes = augment.transform_images_and_boxes(images, crop_boxes, aug)
    aug_predictions = context.predict_fn(aug_images, context.training)
    targets = []
    for instance_embedding, pixel_embedding in self._stacks(aug_predictions):
      logits = self.mask_logits_from_boxes(instance_embedding, pixel_embedding, aug_boxes,
                                           training=context.training, valid=valid)
      if self.predict_full_resolution_masks:
        logits = augment.inverse_transform_maps(logits, aug)
      else:
        # The augmented box crop sees the same content as the original crop, mirrored when the
        # image was flipped: un-mirror it.
        flip = tf.cast(aug.flip, tf.float32)[:, None, None, None]
        logits = flip * tf.reverse(logits, axis=[3]) + (1.0 - flip) * logits
      targets.append(tf.stop_gradient(logits))
    return targets

  # --------------------------------------------------------------------------- postprocess
  def postprocess(self, predictions, detections, context):
    boxes = boxes_true_to_padded(detections[_DET.detection_boxes], context.true_image_shapes,
                                 tf.shape(context.preprocessed_inputs)[1:3])
    return {_DET.detection_masks: self.mask_probabilities(predictions, boxes, context.stride)}

  def mask_probabilities(self, predictions, boxes, stride=4):
    """Sigmoid mask probabilities on the LAST stack for boxes normalized to the padded input.

    `stride` (input pixels per embedding cell) sets the upsampling of full-resolution masks.
    Returns [B, N, S, S] float32 in the frame of each box (S = mask_size, or
    postprocess_crop_size with full-resolution masks).
    """
    instance_embedding = predictions[INSTANCE_EMBEDDING][-1]
    pixel_embedding = predictions[PIXEL_EMBEDDING][-1]
    logits = self.mask_logits_from_boxes(instance_embedding, pixel_embedding, boxes)
    if self.predict_full_resolution_masks:
      # As the original: bilinear upsampling x stride, then a crop at the box; composed per axis
      # so the full-resolution logits are never materialised.
      logits = mask_ops.crop_upsampled_masks_to_boxes(logits, boxes, self.postprocess_crop_size,
                                                      stride)
    return tf.sigmoid(logits)


def _unpack_groundtruth(groundtruth, truncate=False):
  """Batched labels (fields.InputDataFields) -> dict of float32 tensors (masks may be None).

  truncate: keep only the box slots up to the last real instance (compaction.truncate_slots),
  before the masks are cast to float32.
  """
  raw = {
      "boxes": groundtruth[_GT.groundtruth_boxes],
      "classes": groundtruth[_GT.groundtruth_classes],
      "weights": tf.cast(groundtruth[_GT.groundtruth_weights], tf.float32),
      "masks": groundtruth.get(_GT.groundtruth_instance_masks),
  }
  if truncate:
    raw = compaction.truncate_slots(raw)
  return {
      "boxes": tf.stop_gradient(tf.cast(raw["boxes"], tf.float32)),
      "classes": tf.cast(raw["classes"], tf.float32),
      "weights": raw["weights"],
      "masks": None if raw["masks"] is None else tf.cast(raw["masks"], tf.float32),
  }


def gather_at_box_centres(embedding, boxes):
  """Embedding at the int-floored box centre: [B, h, w, D], [B, N, 4] -> [B, N, D].

  Index = int(centre · size) (the original), clipped to the map (the original does not clip;
  a centre can only reach the edge for degenerate boxes).
  """
  height, width = tf.shape(embedding)[1], tf.shape(embedding)[2]
  yc = (boxes[..., 0] + boxes[..., 2]) / 2.0 * tf.cast(height, tf.float32)
  xc = (boxes[..., 1] + boxes[..., 3]) / 2.0 * tf.cast(width, tf.float32)
  yi = tf.clip_by_value(tf.cast(yc, tf.int32), 0, height - 1)
  xi = tf.clip_by_value(tf.cast(xc, tf.int32), 0, width - 1)
  return tf.gather_nd(embedding, tf.stack([yi, xi], axis=-1), batch_dims=1)


def boxes_true_to_padded(boxes, true_image_shapes, padded_shape):
  """Boxes normalized to the true (unpadded) image -> normalized to the padded input.

  Args:
    boxes: [B, N, 4] float32. true_image_shapes: [B, 3] int32. padded_shape: [2] int (H, W).
  """
  scale_y = (tf.cast(true_image_shapes[:, 0], tf.float32) /
             tf.cast(padded_shape[0], tf.float32))[:, None]
  scale_x = (tf.cast(true_image_shapes[:, 1], tf.float32) /
             tf.cast(padded_shape[1], tf.float32))[:, None]
  return boxes * tf.stack([scale_y, scale_x, scale_y, scale_x], axis=-1)
