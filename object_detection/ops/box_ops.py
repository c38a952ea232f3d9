"""Box geometry on normalized or absolute `[ymin, xmin, ymax, xmax]` boxes.

Every function broadcasts over leading dimensions: boxes are `[..., N, 4]`. Functions that need
to know the frame say so in their name (`to_absolute`, `to_normalized`); the others work in any
frame as long as all their arguments share it.
"""

import tensorflow as tf


def area(boxes):
  """Returns `[..., N]` areas of `[..., N, 4]` boxes (negative extents count as 0)."""
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  return tf.maximum(ymax - ymin, 0.0) * tf.maximum(xmax - xmin, 0.0)


def intersection(boxes1, boxes2):
  """Pairwise intersection areas.

  Args:
    boxes1: [..., N, 4] float32.
    boxes2: [..., M, 4] float32, same frame.
  Returns:
    [..., N, M] float32.
  """
  y1a, x1a, y2a, x2a = [b[..., :, None] for b in tf.unstack(boxes1, axis=-1)]
  y1b, x1b, y2b, x2b = [b[..., None, :] for b in tf.unstack(boxes2, axis=-1)]
  h = tf.maximum(tf.minimum(y2a, y2b) - tf.maximum(y1a, y1b), 0.0)
  w = tf.maximum(tf.minimum(x2a, x2b) - tf.maximum(x1a, x1b), 0.0)
  return h * w


def iou(boxes1, boxes2):
  """Pairwise intersection-over-union, 0 where the union is empty.

  Args:
    boxes1: [..., N, 4] float32.
    boxes2: [..., M, 4] float32, same frame.
  Returns:
    [..., N, M] float32 in [0, 1].
  """
  inter = intersection(boxes1, boxes2)
  union = area(boxes1)[..., :, None] + area(boxes2)[..., None, :] - inter
  return tf.where(union > 0.0, inter / tf.maximum(union, 1e-12), tf.zeros_like(inter))


def to_absolute(boxes, height, width):
  """Normalized boxes [..., 4] -> pixel boxes of an image of `height` x `width`."""
  scale = tf.cast(tf.stack([height, width, height, width]), boxes.dtype)
  return boxes * scale


def to_normalized(boxes, height, width):
  """Pixel boxes [..., 4] -> boxes normalized by `height` x `width`."""
  scale = tf.cast(tf.stack([height, width, height, width]), boxes.dtype)
  return boxes / scale


def clip_to_window(boxes, window):
  """Clips boxes to a window, keeping the count (static shape; boxes may become empty).

  Args:
    boxes: [..., N, 4] float32.
    window: [..., 4] float32 `[ymin, xmin, ymax, xmax]` in the boxes' frame (one per leading
      index, broadcast over N).
  Returns:
    [..., N, 4] float32.
  """
  window = tf.convert_to_tensor(window, boxes.dtype)[..., None, :]
  lo = tf.concat([window[..., 0:2], window[..., 0:2]], axis=-1)
  hi = tf.concat([window[..., 2:4], window[..., 2:4]], axis=-1)
  return tf.minimum(tf.maximum(boxes, lo), hi)


def to_center_size(boxes):
  """[..., 4] corners -> (ycenter, xcenter, height, width), each [...]."""
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  return (ymin + ymax) / 2.0, (xmin + xmax) / 2.0, ymax - ymin, xmax - xmin


def from_center_size(ycenter, xcenter, height, width):
  """(ycenter, xcenter, height, width), each [...] -> [..., 4] corners."""
  return tf.stack([ycenter - height / 2.0, xcenter - width / 2.0,
                   ycenter + height / 2.0, xcenter + width / 2.0], axis=-1)


def true_image_windows(true_image_shapes, padded_height, padded_width):
  """Normalized windows of the unpadded image region in padded model inputs.

  Args:
    true_image_shapes: [B, 3] int32, (H, W, 3) of each image before padding.
    padded_height, padded_width: ints or scalars, the padded input size.
  Returns:
    [B, 4] float32 `[0, 0, H/padded_height, W/padded_width]`.
  """
  shapes = tf.cast(true_image_shapes, tf.float32)
  h = shapes[:, 0] / tf.cast(padded_height, tf.float32)
  w = shapes[:, 1] / tf.cast(padded_width, tf.float32)
  zeros = tf.zeros_like(h)
  return tf.stack([zeros, zeros, h, w], axis=1)


def change_coordinate_frame(boxes, window):
  """Expresses normalized boxes relative to `window` (both in the same frame).

  Args:
    boxes: [..., N, 4] float32.
    window: [..., 4] float32 `[ymin, xmin, ymax, xmax]` with positive extent.
  Returns:
    [..., N, 4] float32, e.g. detections of the padded input -> of the true image.
  """
  window = tf.convert_to_tensor(window, boxes.dtype)[..., None, :]
  h = window[..., 2] - window[..., 0]
  w = window[..., 3] - window[..., 1]
  offset = tf.concat([window[..., 0:2], window[..., 0:2]], axis=-1)
  scale = tf.stack([h, w, h, w], axis=-1)
  return (boxes - offset) / scale
