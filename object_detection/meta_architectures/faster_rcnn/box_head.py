"""Second-stage box head (the original's MaskRCNNBoxPredictor box and class heads): spatial
mean of the per-RoI features -> flatten -> optional dropout -> one dense layer each for the
refined box encodings and the class logits (with background)."""

import keras
import tensorflow as tf

from object_detection.core import layer_hyperparams

# `mask_rcnn_box_predictor.fc_hyperparams` when the config leaves it unset.
DEFAULT_HYPERPARAMS = layer_hyperparams.LayerHyperparams(activation=None)


class BoxHead(keras.layers.Layer):
  """Args:
    num_classes: int, K (without background).
    share_box_across_classes: one box per RoI instead of one per class.
    use_dropout: bool; dropout_keep_probability: float (the original's keep probability).
    box_code_size: int (4).
    hyperparams: LayerHyperparams (`fc_hyperparams`; initializer and regularizer only: both
      layers are linear, with bias).

  Attributes (checkpoint children): box_dense, class_dense.
  Call: features [N, h, w, C] float32 -> (box_encodings [N, Q, box_code_size] float32 with
    Q = 1 or K, class_logits [N, K + 1] float32, column 0 = background).
  """

  def __init__(self, num_classes, share_box_across_classes=False, use_dropout=False,
               dropout_keep_probability=0.5, box_code_size=4, hyperparams=DEFAULT_HYPERPARAMS,
               **kwargs):
    super().__init__(**kwargs)
    self.num_boxes = 1 if share_box_across_classes else num_classes
    self.box_code_size = box_code_size
    self.dropout = (keras.layers.Dropout(1.0 - dropout_keep_probability)
                    if use_dropout and dropout_keep_probability < 1.0 else None)
    self.box_dense = keras.layers.Dense(self.num_boxes * box_code_size,
                                        name="BoxEncodingPredictor",
                                        **hyperparams.layer_kwargs(use_bias=True))
    self.class_dense = keras.layers.Dense(num_classes + 1, name="ClassPredictor",
                                          **hyperparams.layer_kwargs(use_bias=True))

  def call(self, features, training=False):
    net = tf.reduce_mean(features, axis=[1, 2])
    if self.dropout is not None:
      net = self.dropout(net, training=training)
    boxes = tf.reshape(self.box_dense(net), [-1, self.num_boxes, self.box_code_size])
    return boxes, self.class_dense(net)
