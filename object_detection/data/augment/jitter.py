"""random_jitter_boxes as a data augmentation (the op itself is ops/box_jitter.py)."""

from object_detection.data.augment.common import BOXES, sub_seed
from object_detection.ops import box_jitter


def random_jitter_boxes(tensor_dict, seed, ratio=0.05, jitter_mode="default"):
  """Jitters the ground-truth boxes (image and masks unchanged); see ops/box_jitter.py."""
  out = dict(tensor_dict)
  out[BOXES] = box_jitter.random_jitter_boxes(tensor_dict[BOXES], ratio, jitter_mode,
                                              seed=sub_seed(seed, 0))
  return out
