"""Mask R-CNN mask heads, registered in MASK_RCNN_MASK_HEADS under the names users write in
`mask_rcnn_box_predictor.mask_head_network_type`.

Every head maps per-RoI features [N, h, w, C] -> mask logits [N, mask_height, mask_width, Km],
Km = num_classes, or 1 when class agnostic, and says which features it wants in `input_kind`:
  "box_classifier_features": the second-stage box classifier features (the original head);
  "roi_features": RoIAlign crops of the proposal feature maps at `roi_crop_size` (the Model
    Garden DeepMAC Mask R-CNN heads).

Names:
  default        the original's MaskRCNNMaskHead (keras_mask_head.py): bilinear resize to the
                 mask size (align corners), (n-1) x [3x3 conv + (BN) + activation], 3x3 conv to
                 Km; with convolve_then_upsample the convs run first and a nearest upsampling
                 precedes the last conv.
  deep_default   MG DeepMaskHead, convnet_variant "default": n x [3x3 conv + BN + ReLU].
  hourglass20 / hourglass52 / hourglass100
                 MG DeepMaskHead with an hourglass (nc = conv depth, no initial downsample).
  Deep heads end with ConvTranspose (k = s = upsample_factor) + BN + ReLU and a 1x1 conv to Km.
"""

import dataclasses
import math

import keras
import tensorflow as tf

from object_detection.core import layer_hyperparams
from object_detection.core import registries
from object_detection.core.tracking import CheckpointableCollections

# `mask_rcnn_box_predictor.conv_hyperparams` when the config leaves it unset.
DEFAULT_HYPERPARAMS = layer_hyperparams.LayerHyperparams(
    initializer=layer_hyperparams.truncated_normal(0.01))


@dataclasses.dataclass(frozen=True)
class MaskHeadParams:
  """Plain values of the mask fields of `mask_rcnn_box_predictor` (box_predictor.proto).

  conv_depth: `mask_prediction_conv_depth`; 0 = the original's automatic rule
    2^round((2 log2 C_in + 3 log2 K) / 5) for the default head; for deep heads 0 means 256.
  upsample_factor: deep heads only; the RoI crop is mask_height / upsample_factor (1: no
    transposed conv).
  num_filters: deep heads only (`mask_head_num_filters`); 0 = conv_depth.
  hyperparams: LayerHyperparams of the default head's convs (`conv_hyperparams`).
  """
  num_classes: int
  mask_height: int = 15
  mask_width: int = 15
  num_conv_layers: int = 2
  conv_depth: int = 256
  class_agnostic: bool = False
  convolve_then_upsample: bool = False
  hyperparams: layer_hyperparams.LayerHyperparams = DEFAULT_HYPERPARAMS
  upsample_factor: int = 2
  num_filters: int = 0

  @property
  def deep_depth(self):
    """Channels of a deep head: num_filters, else conv_depth, else 256."""
    return self.num_filters or self.conv_depth or 256


def auto_conv_depth(num_feature_channels, num_classes):
  """The original's `_get_mask_predictor_conv_depth` (feature weight 2, class weight 3)."""
  log_c = math.log2(float(num_feature_channels))
  log_k = math.log2(float(num_classes))
  return int(2 ** round((2.0 * log_c + 3.0 * log_k) / 5.0))


def _default_head_problems(params):
  if params.num_conv_layers < 1:
    return [f"mask_prediction_num_conv_layers: must be >= 1 for the default head "
            f"(got {params.num_conv_layers}; expected >= 1)"]
  return []


def _deep_head_problems(params):
  if (params.upsample_factor < 1 or params.mask_height != params.mask_width or
      params.mask_height % params.upsample_factor):
    return [f"mask_height: deep mask heads need square masks divisible by "
            f"mask_head_upsample_factor (got {params.mask_height}x{params.mask_width}, "
            f"upsample_factor {params.upsample_factor}; expected square, divisible)"]
  return []


def param_problems(network_type, params):
  """Problems of MaskHeadParams for a registered head (`mask_head_network_type`), as
  `<field>: <problem>` lines (the head's constructor raises the first;
  builders/faster_rcnn_builder.check reports them without building the head)."""
  if network_type == "default":
    return _default_head_problems(params)
  return _deep_head_problems(params)


class MaskRCNNMaskHead(CheckpointableCollections, keras.layers.Layer):
  """The original Mask R-CNN mask head on box classifier features (see module doc).

  Attributes (checkpoint children): convs (list of ConvNormAct, n - 1), last (Conv2D).
  """

  input_kind = "box_classifier_features"

  def __init__(self, params, **kwargs):
    super().__init__(**kwargs)
    problems = _default_head_problems(params)
    if problems:
      raise ValueError(problems[0])
    self.params = params
    self.num_outputs = 1 if params.class_agnostic else params.num_classes
    self.convs = []

  def build(self, input_shape):
    p = self.params
    depth = p.conv_depth or auto_conv_depth(input_shape[-1], p.num_classes)
    self.convs = [p.hyperparams.conv_block(depth, 3, name=f"MaskPredictor_conv2d_{i}")
                  for i in range(p.num_conv_layers - 1)]
    self.last = keras.layers.Conv2D(self.num_outputs, 3, padding="same",
                                    name="MaskPredictor_last_conv",
                                    **p.hyperparams.layer_kwargs(use_bias=True))
    self.conv_depth = depth

  def call(self, features, training=False):
    p = self.params
    net = features
    if not p.convolve_then_upsample:
      net = tf.compat.v1.image.resize(net, [p.mask_height, p.mask_width], align_corners=True)
    for block in self.convs:
      net = block(net, training=training)
    if p.convolve_then_upsample:
      h, w = features.shape[1], features.shape[2]
      if h is None or p.mask_height % h or p.mask_width % w:
        raise ValueError(
            f"convolve_then_upsample_masks: needs the mask size to be a multiple of the RoI "
            f"feature size (got mask {p.mask_height}x{p.mask_width}, features {h}x{w}; "
            "expected multiples)")
      net = tf.repeat(tf.repeat(net, p.mask_height // h, axis=1), p.mask_width // w, axis=2)
    return self.last(net)


def _deep_bn():
  # MG's DeepMaskHead norm: synchronized BN, momentum 0.99, epsilon 1e-3 (MG defaults).
  return keras.layers.BatchNormalization(synchronized=True, momentum=0.99, epsilon=1e-3)


class ConvStack(CheckpointableCollections, keras.layers.Layer):
  """n x [3x3 conv (no bias) + BN + ReLU] (MG convnet_variant "default").

  Attributes (checkpoint children): convs, norms (lists of n).
  """

  def __init__(self, num_convs, depth, **kwargs):
    super().__init__(**kwargs)
    self.convs = [keras.layers.Conv2D(depth, 3, padding="same", use_bias=False)
                  for _ in range(num_convs)]
    self.norms = [_deep_bn() for _ in range(num_convs)]

  def call(self, net, training=False):
    for conv, norm in zip(self.convs, self.norms):
      net = tf.nn.relu(norm(conv(net), training=training))
    return net


class HourglassStack(keras.layers.Layer):
  """An hourglass without initial downsampling; returns its (only) output."""

  def __init__(self, factory, depth, **kwargs):
    super().__init__(**kwargs)
    self.network = factory(depth, initial_downsample=False)

  def call(self, net, training=False):
    return self.network(net, training=training)[-1]


class DeepMaskHead(keras.layers.Layer):
  """MG DeepMAC Mask R-CNN head on RoIAlign crops (see module doc).

  Attributes (checkpoint children): convnet, upsample and upsample_norm (None when
    upsample_factor is 1), project.
  Call: roi features [N, s, s, C] with s = roi_crop_size -> logits [N, s*u, s*u, Km].
  """

  input_kind = "roi_features"

  def __init__(self, params, convnet, **kwargs):
    super().__init__(**kwargs)
    problems = _deep_head_problems(params)
    if problems:
      raise ValueError(problems[0])
    self.params = params
    self.roi_crop_size = params.mask_height // params.upsample_factor
    self.num_outputs = 1 if params.class_agnostic else params.num_classes
    self.convnet = convnet
    if params.upsample_factor > 1:
      self.upsample = keras.layers.Conv2DTranspose(
          params.deep_depth, params.upsample_factor, strides=params.upsample_factor,
          use_bias=False)
      self.upsample_norm = _deep_bn()
    else:
      self.upsample = None
    self.project = keras.layers.Conv2D(self.num_outputs, 1)

  def call(self, features, training=False):
    net = self.convnet(features, training=training)
    if self.upsample is not None:
      net = tf.nn.relu(self.upsample_norm(self.upsample(net), training=training))
    return self.project(net)


@registries.MASK_RCNN_MASK_HEADS.register("default")
def _default(params):
  return MaskRCNNMaskHead(params)


@registries.MASK_RCNN_MASK_HEADS.register("deep_default")
def _deep_default(params):
  return DeepMaskHead(params, ConvStack(params.num_conv_layers, params.deep_depth))


def _register_hourglass(name, factory_name):
  @registries.MASK_RCNN_MASK_HEADS.register(name)
  def make(params):
    from object_detection.models import hourglass_network  # pylint: disable=import-outside-toplevel
    factory = getattr(hourglass_network, factory_name)
    return DeepMaskHead(params, HourglassStack(factory, params.deep_depth))
  return make


for _name in ("hourglass20", "hourglass52", "hourglass100"):
  _register_hourglass(_name, _name.replace("hourglass", "hourglass_"))
