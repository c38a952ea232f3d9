"""Region proposal network head: a shared k x k conv (+ batch norm when configured, + ReLU6, as
the original) followed by 1x1 box-encoding and 2-class objectness convs, applied to every
proposal feature map with the same weights."""

import keras
import tensorflow as tf

from object_detection.core import layer_hyperparams

# `first_stage_box_predictor_conv_hyperparams` when the config leaves it unset.
DEFAULT_HYPERPARAMS = layer_hyperparams.LayerHyperparams(
    initializer=layer_hyperparams.truncated_normal(0.01))


class RPNHead(keras.layers.Layer):
  """Args:
    num_anchors_per_location: int, A.
    depth: int, channels of the shared conv (`first_stage_box_predictor_depth`, 512).
    kernel_size: int (`first_stage_box_predictor_kernel_size`, 3).
    atrous_rate: int (`first_stage_atrous_rate`, 1).
    hyperparams: LayerHyperparams (`first_stage_box_predictor_conv_hyperparams`; its
      activation is not used: the shared conv ends in ReLU6, the 1x1 convs are linear).

  Attributes (checkpoint children): conv, norm (None without batch norm), box_conv,
    class_conv.
  Call: list of L [B, H_l, W_l, C] maps -> (box_encodings [B, sum_l H_l*W_l*A, 4] float32,
    objectness_logits [B, sum_l H_l*W_l*A, 2] float32 (background, object)), ordered
    (level, y, x, anchor) like the anchors.
  """

  def __init__(self, num_anchors_per_location, depth=512, kernel_size=3, atrous_rate=1,
               hyperparams=DEFAULT_HYPERPARAMS, **kwargs):
    super().__init__(**kwargs)
    self.num_anchors = num_anchors_per_location
    self.conv = keras.layers.Conv2D(depth, kernel_size, padding="same",
                                    dilation_rate=atrous_rate, name="RPNConv",
                                    **hyperparams.layer_kwargs())
    self.norm = hyperparams.build_normalization()
    self.box_conv = keras.layers.Conv2D(num_anchors_per_location * 4, 1,
                                        name="BoxEncodingPredictor",
                                        **hyperparams.layer_kwargs(use_bias=True))
    self.class_conv = keras.layers.Conv2D(num_anchors_per_location * 2, 1,
                                          name="ClassPredictor",
                                          **hyperparams.layer_kwargs(use_bias=True))

  def call(self, feature_maps, training=False):
    boxes, logits = [], []
    for fmap in feature_maps:
      net = self.conv(fmap)
      if self.norm is not None:
        net = self.norm(net, training=training)
      net = tf.nn.relu6(net)
      b = tf.shape(net)[0]
      boxes.append(tf.reshape(self.box_conv(net), [b, -1, 4]))
      logits.append(tf.reshape(self.class_conv(net), [b, -1, 2]))
    return tf.concat(boxes, axis=1), tf.concat(logits, axis=1)
