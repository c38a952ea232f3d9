"""Feature pyramid (Lin et al. 2017) over backbone levels, as the original's Keras FPN for
Faster R-CNN: 1x1 lateral convs to `depth`, nearest 2x top-down upsampling + add, 3x3 output
convs, and levels above the backbone's coarsest one made by 3x3 stride-2 convs.
"""

import keras
import tensorflow as tf

from object_detection.core.tracking import CheckpointableCollections


class FeaturePyramid(CheckpointableCollections, keras.layers.Layer):
  """Top-down FPN.

  Args:
    min_level: int, finest output level (level l has stride 2^l).
    max_level: int, coarsest output level.
    backbone_max_level: int, coarsest level the backbone provides (5 for ResNet C5).
    depth: int, channels of every output (`additional_layer_depth`, 256).

  Attributes (checkpoint children): lateral, smooth (lists indexed by level - min_level),
    coarse (levels above backbone_max_level).
  Call: features, dict {level: [B, H/2^l, W/2^l, C_l]} for min_level..min(max, backbone_max)
    -> list of [B, H/2^l, W/2^l, depth] float32 for l = min_level..max_level.
  """

  def __init__(self, min_level, max_level, backbone_max_level=5, depth=256, **kwargs):
    super().__init__(**kwargs)
    if not min_level <= max_level:
      raise ValueError(f"FeaturePyramid: min_level > max_level (got {min_level} > {max_level})")
    self.min_level = min_level
    self.max_level = max_level
    self.top_level = min(max_level, backbone_max_level)
    levels = range(min_level, self.top_level + 1)
    # Lists indexed by level - min_level.
    self.lateral = [keras.layers.Conv2D(depth, 1, name=f"lateral_p{l}") for l in levels]
    self.smooth = [keras.layers.Conv2D(depth, 3, padding="same", name=f"smoothing_p{l}")
                   for l in levels]
    self.coarse = [keras.layers.Conv2D(depth, 3, strides=2, padding="same",
                                       name=f"bottom_up_p{l}")
                   for l in range(self.top_level + 1, max_level + 1)]

  def call(self, features):
    i = self.top_level - self.min_level
    top = self.lateral[i](features[self.top_level])
    outputs = {self.top_level: self.smooth[i](top)}
    for level in range(self.top_level - 1, self.min_level - 1, -1):
      lateral = self.lateral[level - self.min_level](features[level])
      # Nearest 2x by repetition (its gradient compiles with XLA, ResizeNearestNeighborGrad
      # does not), cropped to the finer map (odd sizes).
      up = tf.repeat(tf.repeat(top, 2, axis=1), 2, axis=2)
      top = lateral + up[:, :tf.shape(lateral)[1], :tf.shape(lateral)[2], :]
      outputs[level] = self.smooth[level - self.min_level](top)
    out = [outputs[l] for l in range(self.min_level, self.top_level + 1)]
    net = out[-1]
    for conv in self.coarse:
      net = conv(net)
      out.append(net)
    return out
