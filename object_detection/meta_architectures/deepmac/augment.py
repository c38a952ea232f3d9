"""Random translate/scale/flip of images, boxes and mask maps for augmented self-supervision.

The augmentation of image b is: optional left-right flip, then a crop window
  [ymin, xmin, ymax, xmax] = [0.5 − ty·sy − sy/2, 0.5 − tx·sx − sx/2, 0.5 − ty·sy + sy/2,
                              0.5 − tx·sx + sx/2]
of the (flipped) image resized back to the full size (the original's transform_images_and_boxes).
`inverse_transform_maps` undoes it exactly for image-frame maps (the original used an approximate
inverse: window with −t and 1/s, flip first).
"""

import dataclasses

import tensorflow as tf

from object_detection.core import randomness

from object_detection.ops import mask_ops


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """Per-image parameters, each [B] float32 (flip: [B] bool)."""
  tx: tf.Tensor
  ty: tf.Tensor
  sx: tf.Tensor
  sy: tf.Tensor
  flip: tf.Tensor

  def window(self):
    """[B, 4] crop window in the (flipped) image frame."""
    return tf.stack([0.5 - self.ty * self.sy - self.sy / 2, 0.5 - self.tx * self.sx - self.sx / 2,
                     0.5 - self.ty * self.sy + self.sy / 2, 0.5 - self.tx * self.sx + self.sx / 2],
                    axis=-1)


def sample_augmentation(batch_size, max_translation, scale_min, scale_max, flip_probability,
                        seed=None):
  """Draws an Augmentation for `batch_size` images (stateless when `seed` [2] is given, or
  inside a training step: core/randomness.py)."""
  seed = randomness.op_seed() if seed is None else seed

  def uniform(i, low, high):
    if seed is None:
      return tf.random.uniform([batch_size], low, high)
    return tf.random.stateless_uniform([batch_size], seed=tf.stack([seed[0], seed[1] + i]),
                                       minval=low, maxval=high)
  return Augmentation(
      tx=uniform(0, -max_translation, max_translation + 1e-12),
      ty=uniform(1, -max_translation, max_translation + 1e-12),
      sx=uniform(2, scale_min, scale_max + 1e-12), sy=uniform(3, scale_min, scale_max + 1e-12),
      flip=uniform(4, 0.0, 1.0) < flip_probability)


def _flip_maps(maps, flip):
  """maps [B, ..., W, C] flipped along W where flip [B] is true."""
  flipped = tf.reverse(maps, axis=[-2])
  selector = tf.reshape(tf.cast(flip, maps.dtype), [-1] + [1] * (len(maps.shape) - 1))
  return selector * flipped + (1.0 - selector) * maps


def flip_boxes(boxes, flip):
  """[B, N, 4] boxes mirrored left-right where flip [B] is true."""
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  flipped = tf.stack([ymin, 1.0 - xmax, ymax, 1.0 - xmin], axis=-1)
  selector = tf.cast(flip, tf.float32)[:, None, None]
  return selector * flipped + (1.0 - selector) * boxes


def transform_images_and_boxes(images, boxes, aug):
  """images [B, H, W, C], boxes [B, N, 4] normalized -> the augmented images and boxes."""
  height, width = images.shape[1], images.shape[2]
  if height is None or width is None:
    raise ValueError("transform_images_and_boxes: needs static image height/width")
  window = aug.window()
  flipped = _flip_maps(images, aug.flip)
  out = _crop_rect(flipped, window, height, width)
  boxes = flip_boxes(boxes, aug.flip)
  y0, x0, y1, x1 = tf.unstack(window[:, None, :], axis=-1)
  h, w = y1 - y0, x1 - x0
  b0, b1, b2, b3 = tf.unstack(boxes, axis=-1)
  new_boxes = tf.stack([(b0 - y0) / h, (b1 - x0) / w, (b2 - y0) / h, (b3 - x0) / w], axis=-1)
  return out, new_boxes


def _crop_rect(features, window, height, width):
  ky = mask_ops.interpolation_matrix(window[:, 0], window[:, 2], height, tf.shape(features)[1])
  kx = mask_ops.interpolation_matrix(window[:, 1], window[:, 3], width, tf.shape(features)[2])
  rows = tf.einsum("bsh,bhwc->bswc", ky, features)
  return tf.einsum("bswc,btw->bstc", rows, kx)


def inverse_transform_maps(maps, aug):
  """Maps the augmented-frame [B, N, h, w] maps back to the original image frame."""
  shape = tf.shape(maps)
  height, width = maps.shape[2], maps.shape[3]
  window = aug.window()
  y0, x0, y1, x1 = tf.unstack(window, axis=-1)
  h, w = y1 - y0, x1 - x0
  inverse = tf.stack([-y0 / h, -x0 / w, (1.0 - y0) / h, (1.0 - x0) / w], axis=-1)
  channels_last = tf.transpose(maps, [0, 2, 3, 1])
  out = _crop_rect(channels_last, inverse, height, width)
  out = _flip_maps(out, aug.flip)
  return tf.reshape(tf.transpose(out, [0, 3, 1, 2]), shape)
