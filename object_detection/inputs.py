"""Training and evaluation input pipelines: TFRecords -> batched (features, labels).

    dataset = inputs.train_input(train_config, train_input_config, model_config, model=model,
                                 input_context=input_context)
    features, labels = next(iter(dataset))

Per example (FEATURES.md §6.2): decode -> drop boxes with NaN coordinates and classes unknown to
the label map -> (train) augmentations on the float32 [0, 255] image -> `model.preprocess` on
image[None] (resize + normalize) -> boxes re-framed to the padded image -> masks resized by the
model's image resizer (nearest neighbour, zero padded) -> classes one-hot (label - 1) -> pad/clip
every ground-truth tensor to `max_number_of_boxes` (instances beyond it are DROPPED, as the
original) -> batch. Every output tensor has a static shape when the resizer pads or has a fixed
size (keep_aspect_ratio_resizer with pad_to_max_dimension, fixed_shape_resizer).

Output layout: core/fields.py (batched features / labels). Masks stay uint8.
"""

import tensorflow as tf

from object_detection.builders import dataset_builder, image_resizer_builder, preprocessor_builder
from object_detection.core.errors import ConfigError
from object_detection.core.fields import InputDataFields as F
from object_detection.data import instances

HASH_BINS = 1 << 31

# Per-instance label fields, their padded trailing shape (besides N) and padding value.
_TRAIN_LABEL_KEYS = (F.num_groundtruth_boxes, F.groundtruth_boxes, F.groundtruth_classes,
                     F.groundtruth_weights, F.groundtruth_instance_masks,
                     F.groundtruth_instance_mask_weights, F.groundtruth_is_crowd,
                     F.groundtruth_area)
_EVAL_LABEL_KEYS = _TRAIN_LABEL_KEYS + (F.groundtruth_difficult, F.groundtruth_group_of)


def _model_sub_config(model_config):
  name = model_config.WhichOneof("model")
  if name is None:
    raise ConfigError("model: no model is set (expected one of: center_net, faster_rcnn)")
  return name, getattr(model_config, name)


def num_classes_of(model_config):
  """`num_classes` of the model message."""
  return int(_model_sub_config(model_config)[1].num_classes)


def image_resizer_config_of(model_config):
  """The `ImageResizer` of the model message."""
  name, sub = _model_sub_config(model_config)
  if not sub.HasField("image_resizer"):
    raise ConfigError(f"model.{name}.image_resizer: not set (the input pipeline needs it)")
  return sub.image_resizer


def static_spatial_shape(image_resizer_config):
  """(H, W) every resized image has, or None when it depends on the input image."""
  name = image_resizer_config.WhichOneof("image_resizer_oneof")
  if name == "keep_aspect_ratio_resizer":
    cfg = image_resizer_config.keep_aspect_ratio_resizer
    if cfg.pad_to_max_dimension:
      return (int(cfg.max_dimension), int(cfg.max_dimension))
  elif name == "fixed_shape_resizer":
    cfg = image_resizer_config.fixed_shape_resizer
    return (int(cfg.height), int(cfg.width))
  return None


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


def _features_and_labels(tensor_dict, label_keys, eval_keys):
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


def _preprocess_fn(model, preprocess_fn):
  if preprocess_fn is not None:
    return preprocess_fn
  if model is None:
    raise ValueError("inputs: pass `model` (its preprocess is used) or `preprocess_fn`")
  return model.preprocess


def _per_replica_batch_size(batch_size, input_context, field_path):
  if input_context is None:
    return batch_size
  if batch_size % input_context.num_replicas_in_sync:
    raise ConfigError(f"{field_path}: batch_size must be divisible by the number of replicas "
                      f"(got {batch_size}; expected a multiple of "
                      f"{input_context.num_replicas_in_sync})")
  return input_context.get_per_replica_batch_size(batch_size)


def train_input(train_config, train_input_config, model_config, model=None, input_context=None,
                preprocess_fn=None, seed=None, deterministic=None):
  """Training dataset of (features, labels), batched per replica with static shapes.

  Args:
    train_config: TrainConfig (batch_size, data_augmentation_options).
    train_input_config: InputReader (files, shuffling, masks, max_number_of_boxes).
    model_config: DetectionModel (num_classes, image_resizer).
    model: a DetectionModel; its `preprocess` is applied per image. Or give `preprocess_fn`.
    input_context: optional tf.distribute.InputContext (per-worker files, per-replica batch).
    preprocess_fn: `fn(images [1,H,W,3] float32) -> (images [1,H',W',3], true_shapes [1,3])`.
    seed: optional int for reproducible shuffles and augmentations.
    deterministic: see dataset_builder.build.
  Returns:
    tf.data.Dataset of (features, labels) (core/fields.py batched layout).
  """
  num_classes = num_classes_of(model_config)
  resizer_config = image_resizer_config_of(model_config)
  resizer = image_resizer_builder.build(resizer_config)
  spatial = static_spatial_shape(resizer_config)
  augment_fn = preprocessor_builder.build_all(train_config.data_augmentation_options)
  preprocess = _preprocess_fn(model, preprocess_fn)
  max_boxes = int(train_input_config.max_number_of_boxes)

  def transform(tensor_dict, example_seed):
    out = transform_input_data(tensor_dict, preprocess, resizer, num_classes, augment_fn,
                               example_seed, spatial_shape=spatial)
    out = pad_to_max_boxes(out, max_boxes, num_classes, spatial)
    return _features_and_labels(out, _TRAIN_LABEL_KEYS, eval_keys=False)

  batch_size = _per_replica_batch_size(int(train_config.batch_size), input_context,
                                       "train_config.batch_size")
  return dataset_builder.build(train_input_config, batch_size, transform, input_context, seed,
                               deterministic, field_path="train_input_reader")


def eval_input(eval_config, eval_input_config, model_config, model=None, preprocess_fn=None,
               input_context=None, deterministic=True):
  """Evaluation dataset of (features, labels): no augmentation; keeps source_id, the original
  image size, is_crowd / area / difficult / group_of, and (`eval_config.retain_original_images`)
  `original_image` [B, H', W', 3] uint8 = the raw image resized and padded by the model's resizer.
  """
  num_classes = num_classes_of(model_config)
  resizer_config = image_resizer_config_of(model_config)
  resizer = image_resizer_builder.build(resizer_config)
  spatial = static_spatial_shape(resizer_config)
  preprocess = _preprocess_fn(model, preprocess_fn)
  max_boxes = int(eval_input_config.max_number_of_boxes)
  retain = bool(eval_config.retain_original_images)

  def transform(tensor_dict, example_seed):
    del example_seed
    out = transform_input_data(tensor_dict, preprocess, resizer, num_classes,
                               retain_original_image=retain, spatial_shape=spatial)
    out = pad_to_max_boxes(out, max_boxes, num_classes, spatial)
    return _features_and_labels(out, _EVAL_LABEL_KEYS, eval_keys=True)

  batch_size = _per_replica_batch_size(int(eval_config.batch_size), input_context,
                                       "eval_config.batch_size")
  return dataset_builder.build(eval_input_config, batch_size, transform, input_context,
                               deterministic=deterministic, field_path="eval_input_reader")
