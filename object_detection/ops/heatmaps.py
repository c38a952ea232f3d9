"""Gaussian centre heatmaps: CenterNet's object-centre classification target.

Frames: boxes come normalized [ymin, xmin, ymax, xmax] to the padded model input; they are
scaled to *output* cells (input // stride). A cell (y, x) holds the target of the point (y, x)
(no half-pixel shift), as in the original.
"""

import tensorflow as tf


def _smallest_positive_root_original(a, b, c):
  """The root the original uses: (-b + sqrt(b^2 - 4ac)) / 2.

  Parity quirk (FEATURES §12.1): the textbook root divides by 2a; the original CenterNet (and
  the Object Detection API) divides by 2, which matters for the a = 4 and a = 4 * iou cases.
  Kept for parity with released checkpoints.
  """
  return (-b + tf.sqrt(b * b - 4.0 * a * c)) / 2.0


def gaussian_radius(height, width, min_overlap):
  """Largest corner displacement keeping IoU >= min_overlap, the original's three-case rule.

  Args:
    height, width: [...] float32 box sizes in output cells.
    min_overlap: float, `min_box_overlap_iou` (0.7 in the DeepMAC configs).
  Returns:
    [...] float32 radius (the minimum of the three cases' roots).
  """
  height = tf.convert_to_tensor(height, tf.float32)
  width = tf.convert_to_tensor(width, tf.float32)
  area = height * width
  # One corner inside the ground truth, the other outside.
  r1 = _smallest_positive_root_original(
      1.0, -(height + width), area * (1.0 - min_overlap) / (1.0 + min_overlap))
  # Both corners inside (detection inside the ground truth).
  r2 = _smallest_positive_root_original(4.0, -2.0 * (height + width), (1.0 - min_overlap) * area)
  # Both corners outside (ground truth inside the detection).
  r3 = _smallest_positive_root_original(
      4.0 * min_overlap, 2.0 * min_overlap * (height + width), (min_overlap - 1.0) * area)
  return tf.minimum(tf.minimum(r1, r2), r3)


def gaussian_sigma(height, width, min_overlap):
  """sigma = (2 * max(floor(radius), 0) + 1) / 6 for boxes of [...] float32 size in cells."""
  radius = gaussian_radius(height, width, min_overlap)
  return (2.0 * tf.maximum(tf.floor(radius), 0.0) + 1.0) / 6.0


def boxes_to_output_cells(boxes, output_height, output_width):
  """Normalized boxes -> (y_center, x_center, height, width) in output cells.

  Args:
    boxes: [..., 4] float32 normalized [ymin, xmin, ymax, xmax] of the padded input.
    output_height, output_width: ints (or scalar tensors), input size // stride.
  Returns:
    four [...] float32 tensors in output-cell units.
  """
  oh = tf.cast(output_height, tf.float32)
  ow = tf.cast(output_width, tf.float32)
  ymin, xmin, ymax, xmax = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
  ymin, ymax = ymin * oh, ymax * oh
  xmin, xmax = xmin * ow, xmax * ow
  return (ymin + ymax) / 2.0, (xmin + xmax) / 2.0, ymax - ymin, xmax - xmin


def center_heatmap_targets(boxes, classes, weights, output_height, output_width,
                           min_overlap=0.7):
  """Per-class Gaussian centre heatmaps (CenterNetCenterHeatmapTargetAssigner, dense).

  Each instance draws exp(-((y - floor(cy))^2 + (x - floor(cx))^2) / (2 sigma^2)) times its
  weight into the channels of its (one-hot) classes; channels take the max over instances.
  Padded instances (weight 0, all-zero one-hot) contribute nothing.

  Args:
    boxes: [B, N, 4] float32 normalized [ymin, xmin, ymax, xmax] of the padded input.
    classes: [B, N, C] float32 one-hot classes (0-based channels; C must be static).
    weights: [B, N] float32 instance weights (0 for padding).
    output_height, output_width: python ints, the output (stride) grid size.
    min_overlap: float, min_box_overlap_iou.
  Returns:
    [B, output_height, output_width, C] float32 heatmap in [0, 1] (no gradient).
  """
  num_classes = classes.shape[-1]
  if num_classes is None:
    raise ValueError("center_heatmap_targets: classes need a static class dimension "
                     f"(got {classes.shape}; expected [B, N, C] with C known)")
  batch = boxes.shape[0] if boxes.shape[0] is not None else tf.shape(boxes)[0]
  cy, cx, h, w = boxes_to_output_cells(boxes, output_height, output_width)
  sigma = gaussian_sigma(h, w, min_overlap)  # [B, N]
  ys = tf.range(output_height, dtype=tf.float32)
  xs = tf.range(output_width, dtype=tf.float32)
  dy = ys[None, None, :, None] - tf.floor(cy)[:, :, None, None]  # [B, N, H, 1]
  dx = xs[None, None, None, :] - tf.floor(cx)[:, :, None, None]  # [B, N, 1, W]
  sigma = sigma[:, :, None, None]
  gaussian = tf.exp(-(dy * dy + dx * dx) / (2.0 * sigma * sigma))
  gaussian = gaussian * tf.cast(weights, tf.float32)[:, :, None, None]  # [B, N, H, W]
  # Per-class max over instances as a segment max (memory B*N*H*W, not B*N*H*W*C): each
  # instance goes to segment (b, its class); instances without a class (padding) go to a
  # discarded extra segment. Ground truth is one-hot (fields.py); a multi-hot row would be
  # drawn in its first class only.
  classes = tf.cast(classes, tf.float32)
  class_value = tf.reduce_max(classes, axis=-1)  # [B, N], 1.0 for one-hot rows
  gaussian = gaussian * class_value[:, :, None, None]
  has_class = class_value > 0.0
  class_index = tf.argmax(classes, axis=-1, output_type=tf.int32)
  segment = tf.range(batch, dtype=tf.int32)[:, None] * num_classes + class_index
  segment = tf.where(has_class, segment, batch * num_classes)
  flat = tf.reshape(gaussian, [-1, output_height * output_width])
  maxed = tf.math.unsorted_segment_max(flat, tf.reshape(segment, [-1]),
                                       num_segments=batch * num_classes + 1)
  maxed = tf.maximum(maxed[:batch * num_classes], 0.0)  # empty segments hold -inf-like minima
  heatmap = tf.reshape(maxed, [batch, num_classes, output_height, output_width])
  return tf.stop_gradient(tf.transpose(heatmap, [0, 2, 3, 1]))
