"""CenterNet MobileNetV2 extractors: `mobilenet_v2`, `mobilenet_v2_fpn`, `mobilenet_v2_fpn_sep_conv`.

The backbone is keras.applications.MobileNetV2 (weights=None; include_top=False, so it ends at
`out_relu`, 1280 channels at stride 32), rebuilt once with the original's detection settings
(its models/keras_models/mobilenet_v2.py): batch norm momentum 0.9997 and epsilon 1e-3, kernels
initialised from a truncated normal (stddev 0.09) with an L2 regularizer of 2e-5 (a loss the
train step adds), and, for depth_multiplier < 1, the last 1x1 conv `Conv_1` narrowed too
(make_divisible(1280 * alpha, 8); Keras keeps 1280). The original's "same"-padded stride-2
convolutions equal Keras' explicit ZeroPadding2D + "valid" ones for every input size, so the
graph is the same.

Input: after the base class's channel_means/stds (and BGR) normalisation, x / 127.5 - 1 (Keras'
mobilenet_v2.preprocess_input), as the original.

mobilenet_v2: out_relu -> 3 x [1x1 conv(f) + BN + ReLU, 3x3/2 transposed conv(f) + BN + ReLU],
  f = 256, 128, 64 -> [B, H/4, W/4, 64].
mobilenet_v2_fpn: top-down FPN over block_2_add (stride 4, 24 ch), block_5_add (8, 32),
  block_9_add (16, 64), out_relu (32, 1280): 1x1 conv(64) on out_relu; then for (f, next) in
  ((64, 32), (32, 24), (24, 24)): 2x upsample (upsampling_interpolation), + 1x1 conv(f) of the
  matching level, 3x3 conv(next) + BN + ReLU -> [B, H/4, W/4, 24]. `_sep_conv` (or
  use_separable_conv) makes the 3x3 convs separable.

Checkpoint layout (attributes): `_base_model` (the keras MobileNetV2, one nested model),
`_levels_model` (inputs -> the FPN levels, same layers), then the head's layers in lists:
mobilenet_v2 `reduce_convs`, `reduce_norms`, `upsample_convs`, `upsample_norms`;
mobilenet_v2_fpn `top_conv`, `residual_convs`, `merge_convs`, `merge_norms`.
"""

import keras

from object_detection.core.registries import CENTER_NET_FEATURE_EXTRACTORS
from object_detection.models import center_net_decoders
from object_detection.models import center_net_extractors as base

BATCH_NORM_MOMENTUM = 0.9997
BATCH_NORM_EPSILON = 1e-3
KERNEL_STDDEV = 0.09
WEIGHT_DECAY = 0.00004 * 0.5
FPN_LEVELS = ("block_2_add", "block_5_add", "block_9_add", "out_relu")
INTERPOLATIONS = ("nearest", "bilinear")


def make_divisible(value, divisor=8):
  """The nearest multiple of `divisor` >= divisor, never below 90 % of `value` (MobileNet)."""
  rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
  return rounded + divisor if rounded < 0.9 * value else rounded


def detection_mobilenet_v2(depth_multiplier=1.0):
  """keras.applications.MobileNetV2 without top, with the original's detection settings.

  Returns:
    keras.Model: [B, H, W, 3] float32 in [-1, 1] -> [B, H/32, W/32, C] (C = 1280, or
    make_divisible(1280 * depth_multiplier) when depth_multiplier < 1).
  """
  application = keras.applications.MobileNetV2(
      input_shape=(None, None, 3), alpha=depth_multiplier, include_top=False, weights=None)
  last_filters = 1280 if depth_multiplier >= 1.0 else make_divisible(1280 * depth_multiplier)
  regularizer = keras.regularizers.L2(WEIGHT_DECAY)

  def detection_layer(layer):
    config = layer.get_config()
    if isinstance(layer, keras.layers.BatchNormalization):
      config.update(momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON)
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
      config.update(depthwise_initializer=keras.initializers.TruncatedNormal(
          stddev=KERNEL_STDDEV), depthwise_regularizer=regularizer)
    elif isinstance(layer, keras.layers.Conv2D):
      config.update(kernel_initializer=keras.initializers.TruncatedNormal(stddev=KERNEL_STDDEV),
                    kernel_regularizer=regularizer)
      if layer.name == "Conv_1":
        config.update(filters=last_filters)
    return layer.__class__.from_config(config)

  return keras.models.clone_model(application, clone_function=detection_layer)


class _MobileNetV2Base(base.SingleMapFeatureExtractor):
  """Normalisation + x / 127.5 - 1 (the original's preprocess); one stride-4 output."""

  def preprocess(self, images):
    return super().preprocess(images) / 127.5 - 1.0

  def preprocess_reverse(self, preprocessed):
    return super().preprocess_reverse((preprocessed + 1.0) * 127.5)


class MobileNetV2FeatureExtractor(_MobileNetV2Base):
  """`mobilenet_v2`: MobileNetV2 + 3 transposed-conv upsamplings to stride 4, 64 channels."""

  def __init__(self, depth_multiplier=1.0, **kwargs):
    super().__init__(**kwargs)
    self._base_model = detection_mobilenet_v2(depth_multiplier)
    (self.reduce_convs, self.reduce_norms, self.upsample_convs,
     self.upsample_norms) = center_net_decoders.upsample_stage_layers(reduce_kernel_size=1)

  def call(self, inputs, training=False):
    x = self._base_model(inputs, training=training)
    return [center_net_decoders.upsample_stages(x, self.reduce_convs, self.reduce_norms,
                                                self.upsample_convs, self.upsample_norms,
                                                training)]


class MobileNetV2FpnFeatureExtractor(_MobileNetV2Base):
  """`mobilenet_v2_fpn` / `_sep_conv`: MobileNetV2 + top-down FPN to stride 4, 24 channels."""

  def __init__(self, depth_multiplier=1.0, use_separable_conv=False,
               upsampling_interpolation="nearest", **kwargs):
    super().__init__(**kwargs)
    if upsampling_interpolation not in INTERPOLATIONS:
      raise ValueError("MobileNetV2FpnFeatureExtractor: unknown upsampling_interpolation (got "
                       f"{upsampling_interpolation!r}; expected one of: "
                       f"{', '.join(INTERPOLATIONS)})")
    self._base_model = detection_mobilenet_v2(depth_multiplier)
    self._levels_model = keras.Model(
        inputs=self._base_model.inputs,
        outputs=[self._base_model.get_layer(name).output for name in FPN_LEVELS])
    self.top_conv = keras.layers.Conv2D(64, 1, padding="same")
    merge_conv = keras.layers.SeparableConv2D if use_separable_conv else keras.layers.Conv2D
    self.residual_convs, self.merge_convs, self.merge_norms = [], [], []
    for filters, next_filters in ((64, 32), (32, 24), (24, 24)):
      self.residual_convs.append(keras.layers.Conv2D(filters, 1, padding="same"))
      self.merge_convs.append(merge_conv(next_filters, 3, padding="same"))
      self.merge_norms.append(keras.layers.BatchNormalization())
    self.upsample = keras.layers.UpSampling2D(2, interpolation=upsampling_interpolation)

  def call(self, inputs, training=False):
    levels = self._levels_model(inputs, training=training)
    return [center_net_decoders.top_down_fpn(levels, self.top_conv, self.residual_convs,
                                             self.merge_convs, self.merge_norms, self.upsample,
                                             training)]


@CENTER_NET_FEATURE_EXTRACTORS.register("mobilenet_v2")
def _mobilenet_v2(params, is_training):
  del is_training  # batch norm mode is the `training` call argument
  return MobileNetV2FeatureExtractor(params.depth_multiplier, **base.normalization_kwargs(params))


@CENTER_NET_FEATURE_EXTRACTORS.register("mobilenet_v2_fpn")
def _mobilenet_v2_fpn(params, is_training):
  del is_training
  return MobileNetV2FpnFeatureExtractor(
      params.depth_multiplier, params.use_separable_conv, params.upsampling_interpolation,
      **base.normalization_kwargs(params))


@CENTER_NET_FEATURE_EXTRACTORS.register("mobilenet_v2_fpn_sep_conv")
def _mobilenet_v2_fpn_sep_conv(params, is_training):
  # Separable whatever use_separable_conv says: the name's meaning (the original 2.8 builds
  # plain convs here unless use_separable_conv is also set; docs/DEVIATIONS.md).
  del is_training
  return MobileNetV2FpnFeatureExtractor(
      params.depth_multiplier, True, params.upsampling_interpolation,
      **base.normalization_kwargs(params))
