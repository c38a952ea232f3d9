"""CenterNet box targets (size and offset at the floored centre) and the valid-region weights.

Frames: boxes normalized [ymin, xmin, ymax, xmax] to the padded model input; targets are in
output cells (input // stride).
"""

import tensorflow as tf

from object_detection.ops import heatmaps


def box_size_and_offset_targets(boxes, weights, output_height, output_width):
  """Targets of the scale and offset heads (CenterNetBoxTargetAssigner, batched and padded).

  Args:
    boxes: [B, N, 4] float32 normalized [ymin, xmin, ymax, xmax] of the padded input.
    weights: [B, N] float32 instance weights (0 for padding).
    output_height, output_width: ints, the output grid size.
  Returns:
    indices: [B, N, 2] int32 (y, x) = floor(centre) in output cells, clipped to the grid (the
      original does not clip; only degenerate boxes on the border edge differ).
    size_targets: [B, N, 2] float32 (height, width) in output cells.
    offset_targets: [B, N, 2] float32 centre - floor(centre).
    weights: [B, N] float32 (the input weights).
  """
  cy, cx, h, w = heatmaps.boxes_to_output_cells(boxes, output_height, output_width)
  fy, fx = tf.floor(cy), tf.floor(cx)
  iy = tf.clip_by_value(tf.cast(fy, tf.int32), 0, output_height - 1)
  ix = tf.clip_by_value(tf.cast(fx, tf.int32), 0, output_width - 1)
  indices = tf.stack([iy, ix], axis=-1)
  size_targets = tf.stack([h, w], axis=-1)
  offset_targets = tf.stack([cy - fy, cx - fx], axis=-1)
  return indices, size_targets, offset_targets, tf.cast(weights, tf.float32)


def gather_at_indices(feature_map, indices):
  """Values of a map at per-instance cells.

  Args:
    feature_map: [B, H, W, D] float32.
    indices: [B, N, 2] int32 (y, x) inside the grid.
  Returns:
    [B, N, D] float32.
  """
  return tf.gather_nd(feature_map, indices, batch_dims=1)


def valid_output_region(true_image_shapes, output_height, output_width, stride):
  """1.0 on output cells inside the true (unpadded) image, 0.0 in the padding.

  A cell (y, x) is valid when y < ceil(true_height / stride) and x < ceil(true_width / stride),
  as the original's `get_valid_anchor_weights_in_flattened_image`.

  Args:
    true_image_shapes: [B, 3] int32 (H, W, 3) of the resized images before padding.
    output_height, output_width: ints, the output grid size.
    stride: int, input pixels per output cell.
  Returns:
    [B, output_height, output_width] float32.
  """
  true = tf.cast(true_image_shapes, tf.float32)
  max_y = tf.math.ceil(true[:, 0] / stride)[:, None, None]
  max_x = tf.math.ceil(true[:, 1] / stride)[:, None, None]
  ys = tf.range(output_height, dtype=tf.float32)[None, :, None]
  xs = tf.range(output_width, dtype=tf.float32)[None, None, :]
  return tf.cast(tf.logical_and(ys < max_y, xs < max_x), tf.float32)


def num_instances(weights):
  """max(count of nonzero weights in the batch, 1) as float32 (the losses' denominator)."""
  count = tf.math.count_nonzero(weights, dtype=tf.int32)
  return tf.cast(tf.maximum(count, 1), tf.float32)
