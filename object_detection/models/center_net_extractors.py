"""CenterNet feature extractors, registered under the `feature_extractor.type` strings of configs.

Contract (meta_architectures/center_net/meta_arch.py relies on it): a Keras layer with
  preprocess(images [B, H, W, 3] float32 raw RGB [0, 255]) -> [B, H, W, 3] float32 normalized
    ((x - channel_means) / channel_stds, after RGB -> BGR when bgr_ordering),
  preprocess_reverse(normalized) -> raw RGB,
  call(inputs, training) -> list of [B, H/4, W/4, C] float32 maps (one per stack),
  out_stride (4), num_feature_outputs, restore_map(kind).

Registered: hourglass_10 / 20 / 32 / 52 (single stack, nc = 32 / 48 / 48 / 64), hourglass_104
(2 stacks, 187.7 M parameters), resnet_v1_50_fpn / resnet_v1_101_fpn (keras.applications ResNet v1
built with weights=None, plus the original's 3-level top-down FPN to stride 4, 64 channels).
"""

import dataclasses

import keras
import tensorflow as tf

from object_detection.core.registries import CENTER_NET_FEATURE_EXTRACTORS
from object_detection.models import batch_norm
from object_detection.models import center_net_decoders
from object_detection.models import hourglass_network
from object_detection.core.containers import BuildOnCall
from object_detection.core.tracking import CheckpointableCollections


@dataclasses.dataclass(frozen=True)
class FeatureExtractorParams:
  """CenterNetFeatureExtractor message values (defaults are the proto's).

  Attributes:
    type: str, registry name.
    channel_means, channel_stds: 3 floats each (RGB order of the *input*; applied after the
      optional BGR swap, as the original).
    bgr_ordering: bool, swap RGB -> BGR before normalizing.
    use_depthwise, depth_multiplier, use_separable_conv, upsampling_interpolation: MobileNet /
      FPN options (unused by the extractors registered here).
  """
  type: str = "hourglass_104"
  channel_means: tuple = (0.0, 0.0, 0.0)
  channel_stds: tuple = (1.0, 1.0, 1.0)
  bgr_ordering: bool = False
  use_depthwise: bool = False
  depth_multiplier: float = 1.0
  use_separable_conv: bool = False
  upsampling_interpolation: str = "nearest"


class CenterNetFeatureExtractor(BuildOnCall, keras.layers.Layer):
  """Base class: input normalisation and the checkpoint-restore map."""

  def __init__(self, channel_means=(0.0, 0.0, 0.0), channel_stds=(1.0, 1.0, 1.0),
               bgr_ordering=False, **kwargs):
    super().__init__(**kwargs)
    if len(channel_means) != 3 or len(channel_stds) != 3:
      raise ValueError(
          "CenterNetFeatureExtractor: channel_means/channel_stds need 3 values "
          f"(got {list(channel_means)} and {list(channel_stds)}; expected 3 each)")
    self.channel_means = tuple(float(m) for m in channel_means)
    self.channel_stds = tuple(float(s) for s in channel_stds)
    self.bgr_ordering = bool(bgr_ordering)

  def preprocess(self, images):
    """[B, H, W, 3] float32 raw RGB -> normalized model input (same shape)."""
    images = tf.cast(images, tf.float32)
    if self.bgr_ordering:
      images = images[..., ::-1]
    return (images - tf.constant(self.channel_means)) / tf.constant(self.channel_stds)

  def preprocess_reverse(self, preprocessed):
    """Inverse of `preprocess`: normalized input -> raw RGB float32 [0, 255]."""
    images = preprocessed * tf.constant(self.channel_stds) + tf.constant(self.channel_means)
    return images[..., ::-1] if self.bgr_ordering else images

  @property
  def out_stride(self):
    return 4

  @property
  def num_feature_outputs(self):
    raise NotImplementedError

  @property
  def classification_backbone(self):
    """The ImageNet classification network, for 'classification' fine-tuning (or None)."""
    return None

  def restore_map(self, kind="detection"):
    """{name: trackable} for the checkpoint type: 'detection'/'fine_tune' or 'classification'."""
    if kind in ("detection", "fine_tune"):
      return {"feature_extractor": self}
    if kind == "classification":
      if self.classification_backbone is None:
        raise ValueError(
            f"{type(self).__name__}.restore_map: no classification backbone (got "
            "fine_tune_checkpoint_type 'classification'; expected 'detection' or 'full')")
      return {"feature_extractor": self.classification_backbone}
    raise ValueError(f"{type(self).__name__}.restore_map: unknown checkpoint type "
                     f"(got {kind!r}; expected 'detection', 'fine_tune' or 'classification')")


class SingleMapFeatureExtractor(CheckpointableCollections, CenterNetFeatureExtractor):
  """Base of the extractors around one keras.applications backbone, held in `_base_model` (the
  'classification' fine-tune target), with one stride-4 output map."""

  @property
  def num_feature_outputs(self):
    return 1

  @property
  def classification_backbone(self):
    return self._base_model


class HourglassFeatureExtractor(CenterNetFeatureExtractor):
  """Wraps an HourglassNetwork (attribute `_network`, the original's name)."""

  def __init__(self, network, **kwargs):
    super().__init__(**kwargs)
    self._network = network

  @property
  def num_feature_outputs(self):
    return self._network.num_feature_outputs

  def call(self, inputs, training=False):
    return self._network(inputs, training=training)


class ResNetV1FpnFeatureExtractor(SingleMapFeatureExtractor):
  """keras.applications ResNet v1 + the original's top-down FPN: one 64-channel stride-4 map.

  Top-down: 1x1 conv(256) on conv5; then for (filters, next) in ((256, 128), (128, 64),
  (64, 64)): nearest 2x upsample, add a 1x1 conv(filters) of the matching bottom-up level
  (conv4, conv3, conv2), 3x3 conv(next) + BN + ReLU.
  """

  _LEVELS = {
      "resnet50": ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out",
                   "conv5_block3_out"),
      "resnet101": ("conv2_block3_out", "conv3_block4_out", "conv4_block23_out",
                    "conv5_block3_out"),
  }

  def __init__(self, resnet_type, **kwargs):
    super().__init__(**kwargs)
    if resnet_type == "resnet50":
      base = keras.applications.ResNet50(include_top=False, weights=None,
                                         input_shape=(None, None, 3))
    elif resnet_type == "resnet101":
      base = keras.applications.ResNet101(include_top=False, weights=None,
                                          input_shape=(None, None, 3))
    else:
      raise ValueError(f"ResNetV1FpnFeatureExtractor: unknown resnet_type (got {resnet_type!r}; "
                       "expected 'resnet50' or 'resnet101')")
    self._base_model = base
    self._levels_model = keras.Model(
        inputs=base.inputs,
        outputs=[base.get_layer(name).output for name in self._LEVELS[resnet_type]])
    self.top_conv = keras.layers.Conv2D(256, 1, padding="same")
    self.residual_convs, self.merge_convs, self.merge_norms = [], [], []
    for filters, next_filters in ((256, 128), (128, 64), (64, 64)):
      self.residual_convs.append(keras.layers.Conv2D(filters, 1, padding="same"))
      self.merge_convs.append(keras.layers.Conv2D(next_filters, 3, padding="same"))
      self.merge_norms.append(batch_norm.BatchNormalization())
    self.upsample = keras.layers.UpSampling2D(2, interpolation="nearest")
    self.relu = keras.layers.ReLU()

  # keras.applications.resnet.preprocess_input ("caffe" mode): RGB -> BGR, then minus the
  # ImageNet means in BGR order. The original applies it AFTER the config's channel_means /
  # channel_stds / bgr_ordering normalisation (CenterNetResnetV1FpnFeatureExtractor.preprocess).
  _CAFFE_MEANS_BGR = (103.939, 116.779, 123.68)

  def preprocess(self, images):
    """Config normalisation, then the Keras ResNet preprocessing (see _CAFFE_MEANS_BGR)."""
    normalized = super().preprocess(images)
    return normalized[..., ::-1] - tf.constant(self._CAFFE_MEANS_BGR)

  def preprocess_reverse(self, preprocessed):
    normalized = (preprocessed + tf.constant(self._CAFFE_MEANS_BGR))[..., ::-1]
    return super().preprocess_reverse(normalized)

  def call(self, inputs, training=False):
    levels = self._levels_model(inputs, training=training)
    return [center_net_decoders.top_down_fpn(levels, self.top_conv, self.residual_convs,
                                             self.merge_convs, self.merge_norms, self.upsample,
                                             training, activation=self.relu)]


def normalization_kwargs(params):
  """The base class keyword arguments of a FeatureExtractorParams."""
  return dict(channel_means=params.channel_means, channel_stds=params.channel_stds,
              bgr_ordering=params.bgr_ordering)


def _register_hourglass(name, factory, num_channels):
  @CENTER_NET_FEATURE_EXTRACTORS.register(name)
  def _build(params, is_training):
    del is_training  # batch norm mode is the `training` call argument
    network = factory(num_channels) if num_channels else factory()
    return HourglassFeatureExtractor(network, **normalization_kwargs(params))
  return _build


_register_hourglass("hourglass_10", hourglass_network.hourglass_10, 32)
_register_hourglass("hourglass_20", hourglass_network.hourglass_20, 48)
_register_hourglass("hourglass_32", hourglass_network.hourglass_32, 48)
_register_hourglass("hourglass_52", hourglass_network.hourglass_52, 64)
_register_hourglass("hourglass_104", hourglass_network.hourglass_104, None)


@CENTER_NET_FEATURE_EXTRACTORS.register("resnet_v1_50_fpn")
def _resnet_v1_50_fpn(params, is_training):
  del is_training
  return ResNetV1FpnFeatureExtractor("resnet50", **normalization_kwargs(params))


@CENTER_NET_FEATURE_EXTRACTORS.register("resnet_v1_101_fpn")
def _resnet_v1_101_fpn(params, is_training):
  del is_training
  return ResNetV1FpnFeatureExtractor("resnet101", **normalization_kwargs(params))
