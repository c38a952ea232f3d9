"""Crops (with zero padding where the crop leaves the image) of image, boxes and masks.

Boxes are re-framed to the crop; boxes completely outside it are dropped together with every
per-instance field (classes, masks, weights, ...); the rest are clipped to the crop.
"""

import tensorflow as tf

from object_detection.data import instances
from object_detection.data.augment.common import (
    BOXES, IMAGE, MASKS, change_coordinate_frame, reframe_prune_clip, randint, sub_seed, uniform)
from object_detection.data.resizers import legacy_resize, resize_masks


def _crop_border(border, size):
  """The original's `_get_crop_border`: max_border halved until it is below size / 2."""
  border_f = tf.cast(border, tf.float32)
  size_f = tf.cast(size, tf.float32)
  exponent = tf.math.ceil(tf.math.log(2.0 * border_f / size_f) / tf.math.log(2.0))
  divisor = tf.cast(tf.clip_by_value(tf.pow(2.0, exponent), 1.0, border_f), tf.int32)
  return tf.cast(border, tf.int32) // divisor


def _crop_and_pad(tensor, ymin, ymax, xmin, xmax, offset_y, offset_x, size, spatial_axis):
  """tensor[ymin:ymax, xmin:xmax] placed at (offset_y, offset_x) of a zero [size, size] canvas."""
  if spatial_axis == 0:  # [H, W, C]
    cropped = tensor[ymin:ymax, xmin:xmax]
    return tf.image.pad_to_bounding_box(cropped, offset_y, offset_x, size, size)
  cropped = tensor[:, ymin:ymax, xmin:xmax]  # [N, H, W]
  shape = tf.shape(cropped)
  return tf.pad(cropped, [[0, 0], [offset_y, size - offset_y - shape[1]],
                          [offset_x, size - offset_x - shape[2]]])


def random_square_crop_by_scale(tensor_dict, seed, max_border=128, scale_min=0.6, scale_max=1.3,
                                num_scales=8):
  """CenterNet's square crop: side = scale * max(H, W), scale from linspace(min, max, n).

  The crop centre is uniform in [border, dim - border] per axis (border = `max_border` halved
  until it is below dim / 2). Parts of the crop outside the image are zero (image and masks).

  Quirk kept from the original (FEATURES.md §12.7): the crop's end is clamped to `dim - 1`, not
  `dim`, so when the crop reaches past the bottom/right edge the image's last row/column is not
  copied (it stays zero padding), while boxes are re-framed as if it were.

  Output image: [S, S, C] with S = int(scale * max(H, W)) (varies per example).
  """
  image = tensor_dict[IMAGE]
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  scales = tf.linspace(float(scale_min), float(scale_max), int(num_scales))
  scale = tf.gather(scales, randint(seed, 0, 0, int(num_scales)))
  size = tf.cast(scale * tf.cast(tf.maximum(height, width), tf.float32), tf.int32)
  h_border = _crop_border(max_border, height)
  w_border = _crop_border(max_border, width)
  y_center = randint(seed, 1, h_border, height - h_border + 1)
  x_center = randint(seed, 2, w_border, width - w_border + 1)
  half = size // 2
  crop_ymin, crop_xmin = y_center - half, x_center - half
  ymin, xmin = tf.maximum(crop_ymin, 0), tf.maximum(crop_xmin, 0)
  ymax = tf.minimum(y_center + half, height - 1)  # the quirk: height - 1
  xmax = tf.minimum(x_center + half, width - 1)
  offset_y, offset_x = ymin - crop_ymin, xmin - crop_xmin

  out = dict(tensor_dict)
  out[IMAGE] = _crop_and_pad(image, ymin, ymax, xmin, xmax, offset_y, offset_x, size, 0)
  if MASKS in tensor_dict:
    out[MASKS] = _crop_and_pad(tensor_dict[MASKS], ymin, ymax, xmin, xmax, offset_y, offset_x,
                               size, 1)
  hf, wf, sf = (tf.cast(v, tf.float32) for v in (height, width, size))
  window = tf.stack([tf.cast(crop_ymin, tf.float32) / hf, tf.cast(crop_xmin, tf.float32) / wf,
                     (tf.cast(crop_ymin, tf.float32) + sf) / hf,
                     (tf.cast(crop_xmin, tf.float32) + sf) / wf])
  return reframe_prune_clip(out, window)


def random_crop_image(tensor_dict, seed, min_object_covered=1.0,
                      aspect_ratio_range=(0.75, 1.33), area_range=(0.1, 1.0),
                      overlap_thresh=0.3, clip_boxes=True, random_coef=0.0, max_attempts=100):
  """SSD-style random crop (tf.image.sample_distorted_bounding_box), then box pruning.

  Boxes completely outside the crop are dropped, then boxes with less than `overlap_thresh` of
  their area inside the crop; the rest are re-framed (and clipped when `clip_boxes`). Masks are
  cropped like the image. With probability `random_coef` the example is left unchanged.
  """
  image = tensor_dict[IMAGE]
  boxes = tensor_dict[BOXES]
  begin, size, window = tf.image.stateless_sample_distorted_bounding_box(
      tf.shape(image), tf.clip_by_value(boxes, 0.0, 1.0)[None], seed=sub_seed(seed, 0),
      min_object_covered=min_object_covered, aspect_ratio_range=aspect_ratio_range,
      area_range=area_range, max_attempts=max_attempts, use_image_if_no_bounding_boxes=True)
  window = window[0, 0]

  def crop():
    out = dict(tensor_dict)
    out[IMAGE] = tf.slice(image, begin, size)
    if MASKS in tensor_dict:
      masks = tensor_dict[MASKS]
      out[MASKS] = tf.slice(masks, tf.stack([0, begin[0], begin[1]]),
                            tf.stack([tf.shape(masks)[0], size[0], size[1]]))
    # Prune completely outside, then by the fraction of each box inside the crop.
    new_boxes = change_coordinate_frame(boxes, window)
    clipped = tf.clip_by_value(new_boxes, 0.0, 1.0)
    inter = tf.maximum(clipped[:, 2] - clipped[:, 0], 0.0) * tf.maximum(
        clipped[:, 3] - clipped[:, 1], 0.0)
    area = (new_boxes[:, 2] - new_boxes[:, 0]) * (new_boxes[:, 3] - new_boxes[:, 1])
    outside = tf.reduce_any(tf.stack([new_boxes[:, 0] >= 1.0, new_boxes[:, 1] >= 1.0,
                                      new_boxes[:, 2] <= 0.0, new_boxes[:, 3] <= 0.0], 1), 1)
    ioa = tf.math.divide_no_nan(inter, area)
    keep = tf.logical_and(tf.logical_not(outside), ioa >= overlap_thresh)
    out[BOXES] = clipped if clip_boxes else new_boxes
    out = instances.keep_instances(out, keep)
    return out

  if random_coef <= 0.0:
    return crop()
  do_crop = uniform(seed, 1) > random_coef
  cropped = crop()
  return _select(do_crop, cropped, tensor_dict)


def _select(pred, a, b):
  """Per-key tf.cond between two dicts with the same keys (shapes may differ)."""
  return {k: tf.cond(pred, lambda k=k: a[k], lambda k=k: b[k]) for k in a}


def random_scale_crop_and_pad_to_square(tensor_dict, seed, output_size=512, scale_min=0.1,
                                        scale_max=2.0, method="bilinear"):
  """EfficientDet-style scale jitter: resize so max(H, W) = output_size * U[min, max), take a
  random output_size square crop of it (only when larger), zero-pad to [output_size]^2.

  Output image: [output_size, output_size, C] (static). Masks are resized nearest-neighbour
  (the original resizes masks with the image's method, i.e. bilinear, producing non-binary
  values; we keep them binary uint8).
  """
  image = tensor_dict[IMAGE]
  shape = tf.shape(image)
  height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
  scale = uniform(seed, 0, minval=scale_min, maxval=scale_max)
  max_dim = tf.maximum(height, width)
  scaled_h = tf.cast(scale * output_size * height / max_dim, tf.int32)
  scaled_w = tf.cast(scale * output_size * width / max_dim, tf.int32)
  offset_y = tf.cast(tf.maximum(0.0, tf.cast(scaled_h - output_size, tf.float32))
                     * uniform(seed, 1), tf.int32)
  offset_x = tf.cast(tf.maximum(0.0, tf.cast(scaled_w - output_size, tf.float32))
                     * uniform(seed, 2), tf.int32)
  new_size = tf.stack([scaled_h, scaled_w])

  out = dict(tensor_dict)
  scaled = legacy_resize(image, new_size, method)
  scaled = scaled[offset_y:offset_y + output_size, offset_x:offset_x + output_size]
  out[IMAGE] = tf.image.pad_to_bounding_box(scaled, 0, 0, output_size, output_size)
  if MASKS in tensor_dict:
    masks = resize_masks(tensor_dict[MASKS], new_size)
    masks = masks[:, offset_y:offset_y + output_size, offset_x:offset_x + output_size]
    m_shape = tf.shape(masks)
    out[MASKS] = tf.pad(masks, [[0, 0], [0, output_size - m_shape[1]],
                                [0, output_size - m_shape[2]]])
  sh, sw = tf.cast(scaled_h, tf.float32), tf.cast(scaled_w, tf.float32)
  oy, ox = tf.cast(offset_y, tf.float32), tf.cast(offset_x, tf.float32)
  window = tf.stack([oy / sh, ox / sw, (oy + output_size) / sh, (ox + output_size) / sw])
  return reframe_prune_clip(out, window)
