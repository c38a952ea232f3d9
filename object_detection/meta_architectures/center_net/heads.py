"""CenterNet prediction heads: a small conv stack per output, applied to every backbone stack."""

import keras

from object_detection.core.containers import BuildOnCall
from object_detection.core.tracking import CheckpointableCollections


class PredictionHead(CheckpointableCollections, BuildOnCall, keras.layers.Layer):
  """conv(k_i, f_i, same) + ReLU for each (k_i, f_i), then a 1x1 conv to `num_out_channels`.

  Call: features [B, h, w, C] float32 -> [B, h, w, num_out_channels] float32 (logits).
  """

  def __init__(self, num_out_channels, kernel_sizes=(3,), num_filters=(256,), bias_fill=None,
               use_depthwise=False, unit_height_conv=False, **kwargs):
    super().__init__(**kwargs)
    if len(kernel_sizes) != len(num_filters):
      raise ValueError(
          "PredictionHead: kernel_sizes and num_filters differ in length "
          f"(got {list(kernel_sizes)} and {list(num_filters)}; expected equal lengths)")
    self.convs = []
    for kernel_size, filters in zip(kernel_sizes, num_filters):
      kernel = (1, kernel_size) if unit_height_conv else (kernel_size, kernel_size)
      if use_depthwise:
        conv = keras.layers.SeparableConv2D(filters, kernel, padding="same")
      else:
        conv = keras.layers.Conv2D(filters, kernel, padding="same")
      self.convs.append(conv)
    self.relu = keras.layers.ReLU()
    bias_init = ("zeros" if bias_fill is None
                 else keras.initializers.Constant(float(bias_fill)))
    self.out_conv = keras.layers.Conv2D(num_out_channels, 1, bias_initializer=bias_init)

  def call(self, features, training=False):
    del training  # no batch norm or dropout in the heads
    net = features
    for conv in self.convs:
      net = self.relu(conv(net))
    return self.out_conv(net)


def make_prediction_net(num_out_channels, kernel_sizes=(3,), num_filters=(256,), bias_fill=None,
                        use_depthwise=False, unit_height_conv=False, name=None):
  """The original's `make_prediction_net` (heads default to one 3x3 conv of 256 filters).

  Args:
    num_out_channels: int, channels of the final 1x1 conv.
    kernel_sizes, num_filters: sequences of equal length, the hidden conv stack.
    bias_fill: float or None, constant initial bias of the final conv (heatmap heads use
      heatmap_bias_init = -2.19, i.e. sigmoid = 0.1).
    use_depthwise: bool, separable hidden convs.
    unit_height_conv: bool, [1, k] hidden kernels (DeepMAC's embedding heads in the snapshot).
    name: optional layer name.
  Returns:
    a PredictionHead layer.
  """
  return PredictionHead(num_out_channels, kernel_sizes=tuple(kernel_sizes),
                        num_filters=tuple(num_filters), bias_fill=bias_fill,
                        use_depthwise=use_depthwise, unit_height_conv=unit_height_conv, name=name)
