"""Per-RoI features of the second stage: crop_and_resize (+ max-pool) into the feature
extractor's box classifier, and RoIAlign crops for the deep mask heads. With several feature
maps (FPN) each box is cropped from the level of its size (roi_align.multilevel_crop)."""

import dataclasses

import tensorflow as tf

from object_detection.ops import roi_align


@dataclasses.dataclass(frozen=True)
class RoISource:
  """What RoI crops are taken from, for one `RoIHeads.predict` call.

  feature_maps: list of [B, H_l, W_l, C] float32 maps (finest first).
  box_classifier: fn(crops [N, h, w, C], training) -> [N, h', w', C'] float32.
  image_size: (height, width) of the padded model input (ints or scalar tensors).
  training: bool.
  """
  feature_maps: list
  box_classifier: object
  image_size: tuple
  training: bool

  @property
  def canonical_size(self):
    """sqrt(height * width) of the input: the FPN level rule's image size."""
    height, width = self.image_size
    return tf.sqrt(tf.cast(height, tf.float32) * tf.cast(width, tf.float32))


def _flatten_boxes(crops):
  """[B, M, h, w, C] -> [B * M, h, w, C]."""
  return tf.reshape(crops, tf.concat([[-1], tf.shape(crops)[2:]], 0))


def box_classifier_features(source, boxes, crop_size, maxpool_kernel_size, maxpool_stride):
  """The original's second-stage input: crop_and_resize to crop_size, max-pool, box classifier.

  Args:
    source: RoISource. boxes: [B, M, 4] float32 normalized.
    crop_size: int (`initial_crop_size`). maxpool_kernel_size, maxpool_stride: ints (1, 1:
      no pooling).
  Returns:
    [B * M, h, w, C] float32 box classifier features, box-major.
  """
  crops = roi_align.multilevel_crop(source.feature_maps, boxes, (crop_size, crop_size),
                                    source.canonical_size)
  crops = _flatten_boxes(crops)
  if maxpool_kernel_size > 1 or maxpool_stride > 1:
    crops = tf.nn.max_pool2d(crops, maxpool_kernel_size, maxpool_stride, "VALID")
  return source.box_classifier(crops, training=source.training)


def roi_align_features(source, boxes, crop_size, sampling_ratio):
  """RoIAlign crops of the feature maps (the deep mask heads' input).

  Args:
    source: RoISource. boxes: [B, M, 4] float32 normalized.
    crop_size: int. sampling_ratio: int, samples per bin and axis.
  Returns:
    [B * M, crop_size, crop_size, C] float32, box-major.
  """
  crops = roi_align.multilevel_crop(source.feature_maps, boxes, (crop_size, crop_size),
                                    source.canonical_size, sampling_ratio=sampling_ratio)
  return _flatten_boxes(crops)
