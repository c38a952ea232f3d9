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

The configs are read by builders/input_builder.py (plain InputSettings); the per-example work is
data/transform.py.
"""

from object_detection.builders import dataset_builder, input_builder
from object_detection.core.errors import ConfigError
from object_detection.data.transform import (  # noqa: F401  (the pipeline's steps)
    EVAL_LABEL_KEYS, HASH_BINS, TRAIN_LABEL_KEYS, features_and_labels, pad_to_max_boxes,
    transform_input_data)


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
                preprocess_fn=None, seed=None, deterministic=None, start=0):
  """Training dataset of (features, labels), batched per replica with static shapes.

  Args:
    train_config: TrainConfig (batch_size, data_augmentation_options).
    train_input_config: InputReader (files, shuffling, masks, max_number_of_boxes).
    model_config: DetectionModel (num_classes, image_resizer).
    model: a DetectionModel; its `preprocess` is applied per image. Or give `preprocess_fn`.
    input_context: optional tf.distribute.InputContext (per-worker files, per-replica batch).
    preprocess_fn: `fn(images [1,H,W,3] float32) -> (images [1,H',W',3], true_shapes [1,3])`.
    seed: optional int for reproducible shuffles and augmentations; with it the features also
      hold each example's input position (dataset_builder.build).
    deterministic: see dataset_builder.build.
    start: with a seed, the input position to start at (a resumed run).
  Returns:
    tf.data.Dataset of (features, labels) (core/fields.py batched layout).
  """
  settings = input_builder.train_input_settings(train_config, train_input_config, model_config)
  preprocess = _preprocess_fn(model, preprocess_fn)

  def transform(tensor_dict, example_seed):
    out = transform_input_data(tensor_dict, preprocess, settings.resizer, settings.num_classes,
                               settings.augment_fn, example_seed,
                               spatial_shape=settings.spatial_shape)
    out = pad_to_max_boxes(out, settings.max_boxes, settings.num_classes, settings.spatial_shape)
    return features_and_labels(out, TRAIN_LABEL_KEYS, eval_keys=False)

  batch_size = _per_replica_batch_size(settings.batch_size, input_context,
                                       "train_config.batch_size")
  return dataset_builder.build(train_input_config, batch_size, transform, input_context, seed,
                               deterministic, field_path="train_input_reader", start=start)


def eval_input(eval_config, eval_input_config, model_config, model=None, preprocess_fn=None,
               input_context=None, deterministic=True):
  """Evaluation dataset of (features, labels): no augmentation; keeps source_id, the original
  image size, is_crowd / area / difficult / group_of, and (`eval_config.retain_original_images`)
  `original_image` [B, H', W', 3] uint8 = the raw image resized and padded by the model's resizer.
  """
  settings = input_builder.eval_input_settings(eval_config, eval_input_config, model_config)
  preprocess = _preprocess_fn(model, preprocess_fn)

  def transform(tensor_dict, example_seed):
    del example_seed
    out = transform_input_data(tensor_dict, preprocess, settings.resizer, settings.num_classes,
                               retain_original_image=settings.retain_original_image,
                               spatial_shape=settings.spatial_shape)
    out = pad_to_max_boxes(out, settings.max_boxes, settings.num_classes, settings.spatial_shape)
    return features_and_labels(out, EVAL_LABEL_KEYS, eval_keys=True)

  batch_size = _per_replica_batch_size(settings.batch_size, input_context,
                                       "eval_config.batch_size")
  return dataset_builder.build(eval_input_config, batch_size, transform, input_context,
                               deterministic=deterministic, field_path="eval_input_reader")
