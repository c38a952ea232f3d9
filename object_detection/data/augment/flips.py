"""Geometric flips and 90-degree rotation of image, boxes and masks.

Keypoint permutations of the original's messages are accepted but ignored (keypoints are not
decoded by this package).
"""

import tensorflow as tf

from object_detection.data.augment.common import BOXES, IMAGE, MASKS, coin


def flip_boxes_left_right(boxes):
  """[N, 4] normalized -> mirrored horizontally: [ymin, 1 - xmax, ymax, 1 - xmin]."""
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=1)
  return tf.stack([ymin, 1.0 - xmax, ymax, 1.0 - xmin], axis=1)


def flip_boxes_up_down(boxes):
  """[N, 4] normalized -> mirrored vertically: [1 - ymax, xmin, 1 - ymin, xmax]."""
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=1)
  return tf.stack([1.0 - ymax, xmin, 1.0 - ymin, xmax], axis=1)


def rot90_boxes(boxes):
  """[N, 4] normalized -> rotated 90 degrees counter-clockwise (as tf.image.rot90)."""
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=1)
  return tf.stack([1.0 - xmax, ymin, 1.0 - xmin, ymax], axis=1)


def _apply(tensor_dict, do_it, image_fn, boxes_fn, masks_fn):
  out = dict(tensor_dict)
  out[IMAGE] = tf.cond(do_it, lambda: image_fn(tensor_dict[IMAGE]), lambda: tensor_dict[IMAGE])
  if BOXES in tensor_dict:
    out[BOXES] = tf.cond(do_it, lambda: boxes_fn(tensor_dict[BOXES]), lambda: tensor_dict[BOXES])
  if MASKS in tensor_dict:
    out[MASKS] = tf.cond(do_it, lambda: masks_fn(tensor_dict[MASKS]), lambda: tensor_dict[MASKS])
  return out


def random_horizontal_flip(tensor_dict, seed, probability=0.5):
  """Mirrors image [H,W,C], boxes and masks [N,H,W] left-right with `probability`."""
  return _apply(tensor_dict, coin(seed, 0, probability),
                lambda im: tf.reverse(im, [1]), flip_boxes_left_right, lambda m: tf.reverse(m, [2]))


def random_vertical_flip(tensor_dict, seed, probability=0.5):
  """Mirrors image, boxes and masks up-down with `probability`."""
  return _apply(tensor_dict, coin(seed, 0, probability),
                lambda im: tf.reverse(im, [0]), flip_boxes_up_down, lambda m: tf.reverse(m, [1]))


def random_rotation90(tensor_dict, seed, probability=0.5):
  """Rotates image, boxes and masks 90 degrees counter-clockwise with `probability`.

  The output image is [W, H, C] when rotated (so its static shape is only kept when H == W).
  """
  def rot_masks(m):  # np.rot90 per instance, valid for N == 0 too
    return tf.transpose(tf.reverse(m, [2]), [0, 2, 1])
  out = _apply(tensor_dict, coin(seed, 0, probability),
               tf.image.rot90, rot90_boxes, rot_masks)
  image = tensor_dict[IMAGE]
  if image.shape[0] is None or image.shape[0] != image.shape[1]:
    out[IMAGE].set_shape([None, None, image.shape[-1]])
  return out
