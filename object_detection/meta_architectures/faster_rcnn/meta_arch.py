"""Faster R-CNN / Mask R-CNN (core/model.py contract): a feature extractor, a proposal
generator (first stage) and optional RoI heads (second and third stage).

    maps = feature_extractor.extract_proposal_features(images)
    pred = proposal_generator.predict(maps)            -> RPN outputs, anchors
    proposals = proposal_generator.proposals(pred)     -> NMS'd, padded (no gradient)
    pred += roi_heads.predict(features_to_crop(maps), extract_box_classifier_features,
                              proposals, groundtruth)  -> boxes, classes (, masks)
    losses = proposal_generator.loss(pred, gt) + roi_heads.loss(pred, gt)
    detections = roi_heads.postprocess(pred)  (1 stage: proposal_generator.postprocess)

Checkpoint children: feature_extractor, proposal_generator (rpn_head), roi_heads (box_head,
mask_head). Boxes inside are normalized to the padded model input; exported boxes to the true
(unpadded) image. Shapes are static.
"""

import tensorflow as tf

from object_detection.core import model
from object_detection.ops import box_ops


class FasterRCNNMetaArch(model.DetectionModel):
  """Faster R-CNN (masks when the RoI heads have a mask head; RPN only without RoI heads).

  Args:
    num_classes: int, K (without background).
    image_resizer_fn: fn(image [H, W, 3], masks=None) -> (image, masks, true_shape [3]), or
      None (images are used as they come).
    feature_extractor: FasterRCNNFeatureExtractor.
    proposal_generator: ProposalGenerator.
    roi_heads: RoIHeads, or None for a 1-stage (RPN only) model.
  """

  # build_variables' input side: divisible by the deepest FPN level the configs use (2^7), with
  # room for the RPN's anchors at every level.
  BUILD_INPUT_SIZE = 256

  def __init__(self, num_classes, image_resizer_fn, feature_extractor, proposal_generator,
               roi_heads=None, **kwargs):
    super().__init__(num_classes, **kwargs)
    self._image_resizer_fn = image_resizer_fn
    self.feature_extractor = feature_extractor
    self.proposal_generator = proposal_generator
    self.roi_heads = roi_heads

  @property
  def number_of_stages(self):
    return 1 if self.roi_heads is None else self.roi_heads.number_of_stages

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

  def predict(self, preprocessed_inputs, true_image_shapes, groundtruth=None, training=False):
    """Runs the stages. Returns the proposal generator's dict (rpn_box_encodings [B, A, 4],
    rpn_objectness_predictions_with_background [B, A, 2], anchors), image_windows [B, 4], and
    with RoI heads theirs (proposal_boxes, refined_box_encodings,
    class_predictions_with_background, mask_predictions, ...: RoIHeads.predict)."""
    self._build_before_trace()
    image_size = _height_width(preprocessed_inputs)
    windows = box_ops.true_image_windows(true_image_shapes, *image_size)
    extractor = self.feature_extractor
    maps = extractor.extract_proposal_features(preprocessed_inputs, training=training)
    pred = self.proposal_generator.predict(maps, image_size, windows, training=training)
    pred["image_windows"] = windows
    if self.roi_heads is None:
      return pred
    proposals, num_proposals, _ = self.proposal_generator.proposals(pred, windows)
    pred.update(self.roi_heads.predict(
        extractor.features_to_crop(maps), extractor.extract_box_classifier_features, proposals,
        num_proposals, windows, image_size, groundtruth=groundtruth, training=training))
    return pred

  def loss(self, prediction_dict, true_image_shapes, groundtruth, training=True):
    """The weighted RPN, box classifier and mask losses (FEATURES §4)."""
    del true_image_shapes, training
    losses = self.proposal_generator.loss(prediction_dict, groundtruth)
    if self.roi_heads is not None:
      losses.update(self.roi_heads.loss(prediction_dict, groundtruth))
    return losses

  def postprocess(self, prediction_dict, true_image_shapes):
    """Detections keyed by DetectionResultFields; boxes normalized to the true image."""
    del true_image_shapes
    if self.roi_heads is None:
      return self.proposal_generator.postprocess(prediction_dict)
    return self.roi_heads.postprocess(prediction_dict)

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


def _height_width(images):
  """Static (height, width) of [B, H, W, C] images, or scalar tensors when unknown."""
  height, width = images.shape[1], images.shape[2]
  if height is None or width is None:
    return tf.shape(images)[1], tf.shape(images)[2]
  return height, width
