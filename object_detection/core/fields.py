"""Dictionary keys shared by the data pipeline, the models, training, eval and export.

One place for every key, with its shape, dtype and coordinate frame. Names are the original
Object Detection API's, so users' code that reads these dicts keeps working.

Conventions used everywhere in this package:
  * boxes are `[ymin, xmin, ymax, xmax]`, normalized to [0, 1] relative to the image they belong
    to (for batched model inputs: the *preprocessed, padded* image; for exported detections: the
    original image). Absolute-pixel boxes are named `*_absolute` or documented as such.
  * class ids written by users (label maps, `allowed_masked_classes_ids`, exported
    `detection_classes`) are 1-based; class *indices* inside models are 0-based
    (`index = label_id - 1`); one-hot ground truth has `num_classes` columns.
  * masks are uint8 {0, 1} (ground truth) or float32 probabilities (predictions).
"""


class InputDataFields:
  """Keys of decoded examples (one image) and of the batched (features, labels) dicts.

  Decoded (unbatched, from `data.decoder.TfExampleDecoder.decode`):
    image: [H, W, 3] uint8.
    source_id: [] string. key: [] string (sha256). filename: [] string.
    original_image_spatial_shape: [2] int32 (H, W).
    groundtruth_boxes: [N, 4] float32 normalized to the image.
    groundtruth_classes: [N] int32, 1-based label ids.
    groundtruth_weights: [N] float32 (1.0 unless the record says otherwise).
    groundtruth_is_crowd: [N] bool. groundtruth_area: [N] float32 (pixels of the original image).
    groundtruth_instance_masks: [N, H, W] uint8 {0, 1}.
    groundtruth_instance_mask_weights: [N] float32.
    groundtruth_difficult: [N] int32. groundtruth_group_of: [N] bool.

  Batched features (input pipeline output, model input):
    image: [B, H, W, 3] float32, already passed through `model.preprocess` (resized, padded and
      normalized).
    true_image_shape: [B, 3] int32, the resized image's (H, W, 3) before padding.
    original_image_spatial_shape: [B, 2] int32. hash: [B] int64 (of source_id).
    source_id: [B] string (eval only: strings keep the train step XLA-friendly).
    original_image: [B, H0, W0, 3] uint8 (eval only, when retain_original_images; padded).

  Batched labels (padded to `max_number_of_boxes` = N so shapes are static):
    num_groundtruth_boxes: [B] int32.
    groundtruth_boxes: [B, N, 4] float32 normalized to the preprocessed (padded) image.
    groundtruth_classes: [B, N, num_classes] float32 one-hot (all zeros for padding).
    groundtruth_weights: [B, N] float32 (0.0 for padding).
    groundtruth_instance_masks: [B, N, H, W] uint8 at the preprocessed resolution (zero padded).
    groundtruth_instance_mask_weights: [B, N] float32.
    groundtruth_is_crowd: [B, N] bool. groundtruth_area: [B, N] float32.
  """
  image = "image"
  original_image = "original_image"
  original_image_spatial_shape = "original_image_spatial_shape"
  true_image_shape = "true_image_shape"
  image_format = "image_format"
  source_id = "source_id"
  filename = "filename"
  key = "key"
  hash = "hash"
  num_groundtruth_boxes = "num_groundtruth_boxes"
  groundtruth_boxes = "groundtruth_boxes"
  groundtruth_classes = "groundtruth_classes"
  groundtruth_weights = "groundtruth_weights"
  groundtruth_is_crowd = "groundtruth_is_crowd"
  groundtruth_area = "groundtruth_area"
  groundtruth_difficult = "groundtruth_difficult"
  groundtruth_group_of = "groundtruth_group_of"
  groundtruth_instance_masks = "groundtruth_instance_masks"
  groundtruth_instance_mask_weights = "groundtruth_instance_mask_weights"
  groundtruth_label_types = "groundtruth_label_types"


class DetectionResultFields:
  """Keys of `model.postprocess(...)` outputs (and of the exported signatures).

    detection_boxes: [B, K, 4] float32 normalized to the true (unpadded) image.
    detection_scores: [B, K] float32.
    detection_classes: [B, K] float32 inside the model (0-based index); +1 (1-based label id)
      in exported models and eval, as the original.
    num_detections: [B] float32 in exports, int32 inside the model.
    detection_masks: [B, K, h, w] float32 probabilities in the frame of each detection box.
    detection_multiclass_scores: [B, K, num_classes] float32.
    detection_boxes_strided: [B, K, 4] float32 in output-stride pixels (CenterNet).
    raw_detection_boxes / raw_detection_scores: before NMS (Faster R-CNN).
  """
  detection_boxes = "detection_boxes"
  detection_scores = "detection_scores"
  detection_classes = "detection_classes"
  num_detections = "num_detections"
  detection_masks = "detection_masks"
  detection_multiclass_scores = "detection_multiclass_scores"
  detection_boxes_strided = "detection_boxes_strided"
  raw_detection_boxes = "raw_detection_boxes"
  raw_detection_scores = "raw_detection_scores"


class LossNames:
  """Keys of `model.loss(...)` outputs, named as the original (TensorBoard tags users know)."""
  object_center = "Loss/object_center"
  box_scale = "Loss/box/scale"
  box_offset = "Loss/box/offset"
  deep_mask_estimation = "Loss/deep_mask_estimation"
  deep_mask_box_consistency = "Loss/deep_mask_box_consistency"
  deep_mask_color_consistency = "Loss/deep_mask_color_consistency"
  deep_mask_augmented_self_supervision = "Loss/deep_mask_augmented_self_supervision"
  deep_mask_pointly_supervised = "Loss/deep_mask_pointly_supervised"
  rpn_localization = "Loss/RPNLoss/localization_loss"
  rpn_objectness = "Loss/RPNLoss/objectness_loss"
  box_classifier_localization = "Loss/BoxClassifierLoss/localization_loss"
  box_classifier_classification = "Loss/BoxClassifierLoss/classification_loss"
  box_classifier_mask = "Loss/BoxClassifierLoss/mask_loss"
  regularization = "Loss/regularization_loss"
  total = "Loss/total_loss"
