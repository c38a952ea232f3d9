"""One decoded example -> the model's input tensors: filter, augment, preprocess, re-frame,
one-hot, pad to a fixed number of instances, split into (features, labels).

Per example (FEATURES.md §6.2): decode -> drop boxes with NaN coordinates and classes unknown to
the label map -> (train) augmentations on the float32 [0, 255] image -> `model.preprocess` on
image[None] (resize + normalize) -> boxes re-framed to the padded image -> masks resized by the
model's image resizer (nearest neighbour, zero padded) -> classes one-hot (label - 1) -> pad/clip
every ground-truth tensor to `max_number_of_boxes` (instances beyond it are DROPPED, as the
original). Output layout: core/fields.py (batched features / labels). Masks stay uint8.
"""

import tensorflow as tf

from object_detection.core.fields import InputDataFields as F
from object_detection.data import instances

HASH_BINS = 1 << 31

# The label fields of training and evaluation batches.
TRAIN_LABEL_KEYS = (F.num_groundtruth_boxes, F.groundtruth_boxes, F.groundtruth_classes,
                     F.groundtruth_weights, F.groundtruth_instance_masks,
                     F.groundtruth_instance_mask_weights, F.groundtruth_is_crowd,
                     F.groundtruth_area)
EVAL_LABEL_KEYS = TRAIN_LABEL_KEYS + (F.groundtruth_difficult, F.groundtruth_group_of)


def transform_input_data(tensor_dict, model_preprocess_fn, image_resizer_fn, num_classes,
                         augment_fn=None, seed=None, retain_original_image=False,
                         spatial_shape=None):
  """One decoded example -> model-ready tensors (unpadded instance dimension).

  Args:
    tensor_dict: decoded example (data/decoder.py layout).
    model_preprocess_fn: `fn(images [1, H, W, 3] float32) -> (preprocessed [1, H', W', 3],
      true_image_shapes [1, 3] int32)` (a model's `preprocess`).
    image_resizer_fn: the model's resizer (data/resizers.py contract), used for the masks.
    num_classes: int, one-hot depth.
    augment_fn: optional `fn(tensor_dict, seed) -> tensor_dict` (training).
    seed: [2] int stateless seed for `augment_fn`.
    retain_original_image: keep `original_image` = the resized, padded raw image as uint8.
    spatial_shape: optional static (H', W') of preprocessed images.
  Returns:
    dict: image [H', W', 3] float32, true_image_shape [3] int32, groundtruth_boxes [N, 4]
    normalized to the padded image, groundtruth_classes [N, num_classes] float32 one-hot,
    groundtruth_instance_masks [N, H', W'] uint8, the other per-instance fields [N],
    num_groundtruth_boxes [] int32, plus the pass-through keys (source_id, ...).
  """
  out = instances.filter_nan_boxes(tensor_dict)
  out = instances.filter_unrecognized_classes(out)
  out[F.image] = tf.cast(out[F.image], tf.float32)
  if retain_original_image:
    resized = image_resizer_fn(out[F.image], None)[0]
    out[F.original_image] = tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)
  if augment_fn is not None:
    out = augment_fn(out, seed)

  image = out[F.image]
  preprocessed, true_shape = model_preprocess_fn(image[None])
  true_shape = tf.cast(true_shape[0], tf.int32)
  padded_hw = tf.cast(tf.shape(preprocessed)[1:3], tf.float32)
  true_hw = tf.cast(true_shape[:2], tf.float32)
  out[F.image] = preprocessed[0]
  if spatial_shape is not None:
    out[F.image].set_shape(list(spatial_shape) + [None])
  out[F.true_image_shape] = true_shape
  # Boxes are normalized to the true (resized, unpadded) image; re-express them in the padded one.
  scale = tf.concat([true_hw / padded_hw, true_hw / padded_hw], axis=0)
  scale = tf.gather(scale, [0, 1, 0, 1])
  out[F.groundtruth_boxes] = out[F.groundtruth_boxes] * scale
  if F.groundtruth_instance_masks in out:
    _, masks, _ = image_resizer_fn(image, out[F.groundtruth_instance_masks])
    out[F.groundtruth_instance_masks] = masks
  out[F.groundtruth_classes] = tf.one_hot(out[F.groundtruth_classes] - 1, num_classes,
                                          dtype=tf.float32)
  out[F.num_groundtruth_boxes] = tf.shape(out[F.groundtruth_boxes])[0]
  return out


def pad_to_max_boxes(tensor_dict, max_num_boxes, num_classes, spatial_shape=None):
  """Pads (zeros) or clips every per-instance field to `max_num_boxes` rows.

  Instances beyond `max_num_boxes` are dropped (the first ones are kept), as the original's
  pad_input_data_to_static_shapes. num_groundtruth_boxes becomes min(N, max_num_boxes).
  """
  out = dict(tensor_dict)
  for key in instances.PER_INSTANCE_FIELDS:
    if key not in out:
      continue
    value = out[key][:max_num_boxes]
    pad = max_num_boxes - tf.shape(value)[0]
    paddings = [[0, pad]] + [[0, 0]] * (value.shape.rank - 1)
    value = tf.pad(value, paddings)
    if key == F.groundtruth_boxes:
      value.set_shape([max_num_boxes, 4])
    elif key == F.groundtruth_classes:
      value.set_shape([max_num_boxes, num_classes])
    elif key == F.groundtruth_instance_masks:
      value.set_shape([max_num_boxes] + list(spatial_shape or (None, None)))
    else:
      value.set_shape([max_num_boxes])
    out[key] = value
  out[F.num_groundtruth_boxes] = tf.minimum(tf.cast(out[F.num_groundtruth_boxes], tf.int32),
                                            max_num_boxes)
  return out


def features_and_labels(tensor_dict, label_keys=TRAIN_LABEL_KEYS, eval_keys=False):
  """Splits a padded example into (features, labels) dicts (core/fields.py batched layout)."""
  features = {
      F.image: tensor_dict[F.image],
      F.true_image_shape: tensor_dict[F.true_image_shape],
      F.original_image_spatial_shape: tensor_dict[F.original_image_spatial_shape],
      F.hash: tf.strings.to_hash_bucket_fast(tensor_dict[F.source_id], HASH_BINS),
  }
  if eval_keys:
    features[F.source_id] = tensor_dict[F.source_id]
    if F.original_image in tensor_dict:
      features[F.original_image] = tensor_dict[F.original_image]
  labels = {k: tensor_dict[k] for k in label_keys if k in tensor_dict}
  return features, labels
