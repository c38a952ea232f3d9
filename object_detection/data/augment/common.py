"""Shared pieces of the augmentation ops: stateless randomness and box re-framing.

Every op is `op(tensor_dict, seed, **params) -> tensor_dict` where

  tensor_dict: a decoded example (core/fields.py, unbatched) whose image is
    [H, W, C] float32 in [0, 255]; boxes [N, 4] float32 normalized; masks [N, H, W] uint8;
    other per-instance fields (classes, weights, is_crowd, area, ...) are kept in step with the
    boxes (see data/instances.py).
  seed: [2] int32/int64 tensor, a stateless seed (`tf.random.stateless_*`). The same seed gives
    the same result, eagerly, in tf.function and in tf.data.

Ops never mutate their input dict.
"""

import tensorflow as tf

from object_detection.core.fields import InputDataFields as F
from object_detection.data import instances

IMAGE = F.image
BOXES = F.groundtruth_boxes
MASKS = F.groundtruth_instance_masks


def sub_seed(seed, salt):
  """A new [2] seed derived from `seed` and an int `salt` (independent streams per draw)."""
  return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), salt)


def uniform(seed, salt, shape=(), minval=0.0, maxval=1.0):
  """Stateless float32 uniform in [minval, maxval)."""
  return tf.random.stateless_uniform(shape, seed=sub_seed(seed, salt), minval=minval,
                                     maxval=maxval, dtype=tf.float32)


def randint(seed, salt, minval, maxval):
  """Stateless int32 scalar in [minval, maxval) (maxval > minval)."""
  return tf.random.stateless_uniform([], seed=sub_seed(seed, salt), minval=minval,
                                     maxval=maxval, dtype=tf.int32)


def coin(seed, salt, probability):
  """True with `probability` (the original draws u ~ U[0,1) and acts when u < probability)."""
  return uniform(seed, salt) < probability


def map_rgb(tensor_dict, fn):
  """Applies `fn` to the first 3 channels of the image only (the original's RGB-only rule)."""
  out = dict(tensor_dict)
  image = tensor_dict[IMAGE]
  if image.shape[-1] is not None and image.shape[-1] <= 3:
    out[IMAGE] = fn(image)
  else:
    out[IMAGE] = tf.concat([fn(image[:, :, :3]), image[:, :, 3:]], axis=-1)
  return out


def change_coordinate_frame(boxes, window):
  """Normalized boxes -> expressed relative to `window` [4] (same frame as the boxes)."""
  window = tf.cast(window, tf.float32)
  height = window[2] - window[0]
  width = window[3] - window[1]
  return (boxes - tf.stack([window[0], window[1], window[0], window[1]])) / tf.stack(
      [height, width, height, width])


def reframe_prune_clip(tensor_dict, window):
  """Boxes re-framed to `window`; boxes completely outside [0,1]^2 dropped; the rest clipped.

  This is the original's change_coordinate_frame -> prune_completely_outside_window ->
  clip_to_window(filter_nonoverlapping=False) sequence. Every per-instance field (masks too)
  drops the same rows.

  Args:
    tensor_dict: example dict with BOXES.
    window: [4] float32, the new image's extent in the old normalized frame.
  Returns:
    new dict.
  """
  if BOXES not in tensor_dict:
    return dict(tensor_dict)
  boxes = change_coordinate_frame(tensor_dict[BOXES], window)
  outside = tf.reduce_any(tf.stack([boxes[:, 0] >= 1.0, boxes[:, 1] >= 1.0,
                                    boxes[:, 2] <= 0.0, boxes[:, 3] <= 0.0], axis=1), axis=1)
  out = dict(tensor_dict)
  out[BOXES] = tf.clip_by_value(boxes, 0.0, 1.0)
  return instances.keep_instances(out, tf.logical_not(outside))
