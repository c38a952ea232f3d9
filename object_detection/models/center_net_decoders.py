"""The loops that take a CenterNet backbone's features to its stride-4 output map.

Pure functions over layers that the calling extractor owns: the layers stay attributes of the
extractor (their checkpoint paths and the converter's name maps, conversion/center_net_names.py,
depend on it); only the order in which they are applied lives here.

- upsample_stages: resnet_v2_50/101 and mobilenet_v2 (the original's
  center_net_resnet_feature_extractor.py / center_net_mobilenet_v2_feature_extractor.py).
- top_down_fpn: resnet_v1_*_fpn and mobilenet_v2_fpn(_sep_conv) (the original's
  center_net_resnet_v1_fpn_feature_extractor.py / center_net_mobilenet_v2_fpn_feature_extractor.py).
"""

import keras
import tensorflow as tf


def upsample_stage_layers(reduce_kernel_size, filters=(256, 128, 64)):
  """The layers of upsample_stages, created in the original's order (stage by stage).

  Args:
    reduce_kernel_size: int, kernel of the reducing conv (1 in mobilenet_v2, 3 in resnet_v2).
    filters: ints, channels of each stage.

  Returns:
    (reduce_convs, reduce_norms, upsample_convs, upsample_norms): lists of len(filters) layers.
  """
  reduce_convs, reduce_norms, upsample_convs, upsample_norms = [], [], [], []
  for f in filters:
    reduce_convs.append(keras.layers.Conv2D(f, reduce_kernel_size, padding="same"))
    reduce_norms.append(keras.layers.BatchNormalization())
    upsample_convs.append(keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same"))
    upsample_norms.append(keras.layers.BatchNormalization())
  return reduce_convs, reduce_norms, upsample_convs, upsample_norms


def upsample_stages(x, reduce_convs, reduce_norms, upsample_convs, upsample_norms, training):
  """Each stage: conv + BN + ReLU, then 2x transposed conv + BN + ReLU.

  Args:
    x: [B, H/32, W/32, C] float32, the backbone's last map.
    reduce_convs, reduce_norms, upsample_convs, upsample_norms: equal-length lists of layers
      (upsample_stage_layers).
    training: bool, batch norm mode.

  Returns:
    [B, H/32 * 2^n, W/32 * 2^n, F] float32 (n stages, F the last stage's filters).
  """
  for conv, norm, up, up_norm in zip(reduce_convs, reduce_norms, upsample_convs,
                                     upsample_norms):
    x = tf.nn.relu(norm(conv(x), training=training))
    x = tf.nn.relu(up_norm(up(x), training=training))
  return x


def top_down_fpn(levels, top_conv, residual_convs, merge_convs, merge_norms, upsample, training,
                 activation=tf.nn.relu):
  """Top-down FPN: top_conv on the coarsest level; then, finest last, for each finer level i:
  upsample, add residual_convs[i] of that level, merge_convs[i] + merge_norms[i] + activation.

  Args:
    levels: list of [B, H/2^l, W/2^l, C_l] float32, finest first (each level half the size of
      the one before).
    top_conv: layer applied to levels[-1].
    residual_convs, merge_convs, merge_norms: lists of len(levels) - 1 layers, index 0 for the
      level next to the coarsest (levels[-2]).
    upsample: layer, 2x upsampling.
    training: bool, batch norm mode.
    activation: callable after each merge norm (ReLU).

  Returns:
    [B, H/2^l0, W/2^l0, C] float32 at the finest level's resolution (C: merge_convs[-1]'s).
  """
  top_down = top_conv(levels[-1])
  for i, bottom_up in enumerate(reversed(levels[:-1])):
    top_down = upsample(top_down) + residual_convs[i](bottom_up)
    top_down = activation(merge_norms[i](merge_convs[i](top_down), training=training))
  return top_down
