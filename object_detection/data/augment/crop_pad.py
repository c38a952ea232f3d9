"""Crops to an aspect ratio, and crop-then-pad (SSD-style) of image, boxes and masks."""

import tensorflow as tf

from object_detection.data import instances
from object_detection.data.augment.common import (
    BOXES, IMAGE, MASKS, change_coordinate_frame, randint, sub_seed)
from object_detection.data.augment.crops import random_crop_image
from object_detection.data.augment.pads import random_pad_image


def random_crop_to_aspect_ratio(tensor_dict, seed, aspect_ratio=1.0, overlap_thresh=0.3,
                                clip_boxes=True):
  """Largest crop of width / height = `aspect_ratio` at a random position.

  Boxes with less than `overlap_thresh` of their area inside the crop are dropped (with their
  masks and other per-instance fields); the rest are re-framed (and clipped when `clip_boxes`).
  """
  image = tensor_dict[IMAGE]
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  hf, wf = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
  image_ratio = wf / hf
  target_h = tf.where(image_ratio >= aspect_ratio, height,
                      tf.cast(tf.round(wf / aspect_ratio), tf.int32))
  target_w = tf.where(image_ratio <= aspect_ratio, width,
                      tf.cast(tf.round(hf * aspect_ratio), tf.int32))
  offset_y = randint(seed, 0, 0, height - target_h + 1)
  offset_x = randint(seed, 1, 0, width - target_w + 1)
  out = dict(tensor_dict)
  out[IMAGE] = tf.image.crop_to_bounding_box(image, offset_y, offset_x, target_h, target_w)
  if MASKS in tensor_dict:
    out[MASKS] = tensor_dict[MASKS][:, offset_y:offset_y + target_h, offset_x:offset_x + target_w]
  window = tf.cast(tf.stack([offset_y, offset_x, offset_y + target_h, offset_x + target_w]),
                   tf.float32) / tf.stack([hf, wf, hf, wf])
  boxes = change_coordinate_frame(tensor_dict[BOXES], window)
  clipped = tf.clip_by_value(boxes, 0.0, 1.0)
  inside = tf.maximum(clipped[:, 2] - clipped[:, 0], 0.0) * tf.maximum(
      clipped[:, 3] - clipped[:, 1], 0.0)
  area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
  out[BOXES] = clipped if clip_boxes else boxes
  return instances.keep_instances(out, tf.math.divide_no_nan(inside, area) >= overlap_thresh)


def random_crop_pad_image(tensor_dict, seed, min_object_covered=1.0,
                          aspect_ratio_range=(0.75, 1.33), area_range=(0.1, 1.0),
                          overlap_thresh=0.3, clip_boxes=True, random_coef=0.0,
                          min_padded_size_ratio=(1.0, 1.0), max_padded_size_ratio=(2.0, 2.0),
                          pad_color=None):
  """random_crop_image, then random_pad_image to a size between `min_padded_size_ratio` and
  `max_padded_size_ratio` times the ORIGINAL image size (as the original). Masks follow both
  steps (the original did not support masks here)."""
  hw = tf.cast(tf.shape(tensor_dict[IMAGE])[:2], tf.float32)
  cropped = random_crop_image(tensor_dict, sub_seed(seed, 0), min_object_covered,
                              aspect_ratio_range, area_range, overlap_thresh, clip_boxes,
                              random_coef)
  min_size = tf.cast(hw * tf.constant(min_padded_size_ratio, tf.float32), tf.int32)
  max_size = tf.cast(hw * tf.constant(max_padded_size_ratio, tf.float32), tf.int32)
  return random_pad_image(cropped, sub_seed(seed, 1), min_size, max_size, pad_color)
