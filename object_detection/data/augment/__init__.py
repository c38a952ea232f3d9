"""Data augmentations, one module per family: pure ops `op(tensor_dict, seed, **params)`.

builders/preprocessor_builder.py binds them to the PreprocessingStep messages of configs:

  flips:  random_horizontal_flip, random_vertical_flip, random_rotation90
  color:  random_adjust_{brightness,contrast,hue,saturation}, random_distort_color,
          random_rgb_to_gray, random_pixel_value_scale
  crops:  random_square_crop_by_scale, random_crop_image, random_scale_crop_and_pad_to_square
  crop_pad: random_crop_to_aspect_ratio, random_crop_pad_image
  pads:   random_pad_image, random_absolute_pad_image
  scale:  random_image_scale, resize_image, random_resize_method
  jitter: random_jitter_boxes
  patches: adjust_gamma, rgb_to_gray, random_black_patches, random_jpeg_quality
  labels: remap_labels, drop_label_probabilistically

Not implemented (building them raises ConfigError listing the supported names):
normalize_image, subtract_channel_mean and scale_boxes_to_pixel_coordinates (they change the
[0, 255] image / normalized box conventions the model's preprocess relies on), ssd_random_crop*,
convert_class_logits_to_softmax, random_self_concat_image, autoaugment_image,
random_downscale_to_target_pixels, random_patch_gaussian.
"""

from object_detection.data.augment import (  # noqa: F401
    color, crop_pad, crops, flips, jitter, labels, pads, patches, scale)

import tensorflow as tf  # noqa: E402


def compose(ops):
  """Chains augmentation callables into one `fn(tensor_dict, seed) -> tensor_dict`.

  Each op gets its own seed derived from `seed` and its position, so adding an op does not
  change the random draws of the others.
  """
  ops = list(ops)

  def fn(tensor_dict, seed):
    seed = tf.cast(seed, tf.int64)
    for i, op in enumerate(ops):
      tensor_dict = op(tensor_dict, tf.random.experimental.stateless_fold_in(seed, 1000 + i))
    return tensor_dict
  return fn
