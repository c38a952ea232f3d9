"""CenterNet decoding: heatmap peaks (max-pool NMS + top-k) and box decoding.

Frames: peak indices and strided boxes are in output cells; normalized boxes are relative to
the true (unpadded) image, [ymin, xmin, ymax, xmax].
"""

import tensorflow as tf

PEAK_EPSILON = 1e-6


def top_k_peaks(heatmap, k, max_pool_kernel_size=3):
  """The k highest local maxima over all cells and channels.

  A cell is a peak when |x - maxpool_kxk(x)| < 1e-6 (ties are all kept, as the original);
  non-peaks are zeroed, then top-k runs over H * W * C.

  Args:
    heatmap: [B, H, W, C] float32 scores (already sigmoided and masked).
    k: int, number of peaks (max_box_predictions); must be <= H * W * C.
    max_pool_kernel_size: int, 1 or 0 disables the peak test.
  Returns:
    scores: [B, k] float32; y_indices, x_indices, channel_indices: [B, k] int32.
  """
  batch, height, width, channels = heatmap.shape
  if height is None or width is None or channels is None:
    raise ValueError(f"top_k_peaks: heatmap needs static H, W, C (got {heatmap.shape})")
  if k > height * width * channels:
    raise ValueError(
        f"top_k_peaks: k larger than the heatmap (got k={k}; expected <= "
        f"{height * width * channels} = H*W*C)")
  if max_pool_kernel_size and max_pool_kernel_size > 1:
    pooled = tf.nn.max_pool2d(heatmap, ksize=max_pool_kernel_size, strides=1, padding="SAME")
    heatmap = heatmap * tf.cast(tf.abs(heatmap - pooled) < PEAK_EPSILON, heatmap.dtype)
  flat = tf.reshape(heatmap, [-1 if batch is None else batch, height * width * channels])
  scores, flat_indices = tf.math.top_k(flat, k=k)
  channel_indices = flat_indices % channels
  cell = flat_indices // channels
  return scores, cell // width, cell % width, channel_indices


def decode_boxes(y_indices, x_indices, size_map, offset_map):
  """Boxes at the peaks from the scale and offset heads, in output cells.

  box = (y + dy -/+ h / 2, x + dx -/+ w / 2) with (h, w) clamped >= 0, clipped to the grid.

  Args:
    y_indices, x_indices: [B, K] int32 peak cells.
    size_map: [B, H, W, 2] float32 predicted (height, width) in cells.
    offset_map: [B, H, W, 2] float32 predicted (dy, dx).
  Returns:
    [B, K, 4] float32 [ymin, xmin, ymax, xmax] in output cells (`detection_boxes_strided`).
  """
  height = tf.cast(tf.shape(size_map)[1], tf.float32)
  width = tf.cast(tf.shape(size_map)[2], tf.float32)
  idx = tf.stack([y_indices, x_indices], axis=-1)
  size = tf.maximum(tf.gather_nd(size_map, idx, batch_dims=1), 0.0)
  offset = tf.gather_nd(offset_map, idx, batch_dims=1)
  cy = tf.cast(y_indices, tf.float32) + offset[..., 0]
  cx = tf.cast(x_indices, tf.float32) + offset[..., 1]
  half_h, half_w = size[..., 0] / 2.0, size[..., 1] / 2.0
  return tf.stack([
      tf.clip_by_value(cy - half_h, 0.0, height),
      tf.clip_by_value(cx - half_w, 0.0, width),
      tf.clip_by_value(cy + half_h, 0.0, height),
      tf.clip_by_value(cx + half_w, 0.0, width)], axis=-1)


def strided_boxes_to_normalized(boxes_strided, stride, true_image_shapes):
  """Output-cell boxes -> boxes normalized to the true image, clipped to [0, 1].

  Args:
    boxes_strided: [B, K, 4] float32 in output cells.
    stride: int, input pixels per cell.
    true_image_shapes: [B, 3] int32 (H, W, 3) before padding.
  Returns:
    [B, K, 4] float32 normalized [ymin, xmin, ymax, xmax].
  """
  true = tf.cast(true_image_shapes, tf.float32)
  scale = tf.stack([true[:, 0], true[:, 1], true[:, 0], true[:, 1]], axis=-1)[:, None, :]
  return tf.clip_by_value(boxes_strided * float(stride) / scale, 0.0, 1.0)


def strided_boxes_to_padded_normalized(boxes_strided, output_height, output_width):
  """Output-cell boxes -> boxes normalized to the padded model input (DeepMAC crops with these).

  Args:
    boxes_strided: [B, K, 4] float32 in output cells.
    output_height, output_width: ints, the output grid size.
  Returns:
    [B, K, 4] float32.
  """
  scale = tf.constant([output_height, output_width, output_height, output_width], tf.float32)
  return boxes_strided / scale
