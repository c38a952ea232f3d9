"""Label ops: remap class ids, drop all instances of a class with a probability."""

import tensorflow as tf

from object_detection.core.fields import InputDataFields as F
from object_detection.data import instances
from object_detection.data.augment.common import uniform


def remap_labels(tensor_dict, seed=None, original_labels=(), new_label=0):
  """Deterministic: class ids in `original_labels` (1-based) become `new_label`."""
  del seed
  out = dict(tensor_dict)
  classes = tensor_dict[F.groundtruth_classes]
  hit = tf.reduce_any(classes[:, None] == tf.constant(list(original_labels), classes.dtype)[None],
                      axis=1) if original_labels else tf.zeros_like(classes, tf.bool)
  out[F.groundtruth_classes] = tf.where(hit, tf.cast(new_label, classes.dtype), classes)
  return out


def drop_label_probabilistically(tensor_dict, seed, label, drop_probability=1.0):
  """With `drop_probability`, drops every instance of class `label` (boxes, masks, ...)."""
  classes = tensor_dict[F.groundtruth_classes]
  drop = uniform(seed, 0) < drop_probability
  keep = tf.logical_or(tf.logical_not(drop), classes != label)
  return instances.keep_instances(tensor_dict, keep)
