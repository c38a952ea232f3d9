"""Per-instance fields of a decoded example, and keeping them consistent when instances drop.

A decoded example (unbatched, see `core/fields.py`) holds several tensors whose first dimension
is the instance index N (boxes, classes, masks, ...). Augmentations that drop boxes (crops) and
filters (NaN boxes, unknown classes) must drop the same rows from all of them: they call
`gather_instances`.
"""

import tensorflow as tf

from object_detection.core.fields import InputDataFields as F

# Fields whose first dimension is the instance index.
PER_INSTANCE_FIELDS = (
    F.groundtruth_boxes,
    F.groundtruth_classes,
    F.groundtruth_weights,
    F.groundtruth_is_crowd,
    F.groundtruth_area,
    F.groundtruth_difficult,
    F.groundtruth_group_of,
    F.groundtruth_instance_masks,
    F.groundtruth_instance_mask_weights,
)


def gather_instances(tensor_dict, indices):
  """Keeps the instances at `indices` (in that order) in every per-instance field.

  Args:
    tensor_dict: decoded example dict (other keys are passed through).
    indices: [K] int32 indices into the instance dimension.
  Returns:
    A new dict; per-instance fields have first dimension K.
  """
  out = dict(tensor_dict)
  for key in PER_INSTANCE_FIELDS:
    if key in out:
      out[key] = tf.gather(out[key], indices)
  return out


def keep_instances(tensor_dict, keep):
  """Keeps the instances where the [N] bool `keep` is True."""
  return gather_instances(tensor_dict, tf.cast(tf.reshape(tf.where(keep), [-1]), tf.int32))


def filter_nan_boxes(tensor_dict):
  """Drops instances whose box has a NaN coordinate (as the original's input transform)."""
  boxes = tensor_dict[F.groundtruth_boxes]
  return keep_instances(tensor_dict, tf.logical_not(tf.reduce_any(tf.math.is_nan(boxes), axis=1)))


def filter_unrecognized_classes(tensor_dict):
  """Drops instances whose class is -1 (text not in the label map), as the original."""
  return keep_instances(tensor_dict, tensor_dict[F.groundtruth_classes] > -1)
