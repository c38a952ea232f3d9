"""DeepMAC mask-head networks, registered by the `network_type` strings users write.

Every entry of `registries.DEEPMAC_MASK_NETWORKS` is called as `fn(params: DeepMACParams)` and
returns a Keras layer `net(inputs [N, S, S, C_in], training) -> [N, S, S, C]` (or a list whose
last element is used). `MaskHeadNetwork` wraps it: it builds the input (pixel crops + tiled
instance embedding), runs the network, applies the parameter-free heads (embedding projection,
CondInst) and the 1x1 `project_out` conv to 1 channel when the network returns more than one.

Parameter counts (C_in 50, nc 64, incl. project_out) match FEATURES.md §2, e.g. hourglass52
23.46 M, hourglass100 47.22 M, resnet4 0.53 M, fully_connected 68.16 M (mask_size 32).
"""

import keras
import tensorflow as tf

from object_detection.core import registries
from object_detection.meta_architectures.deepmac import params as params_lib
from object_detection.models import batch_norm
from object_detection.models import hourglass_network

_FIELD = params_lib.FIELD_PATH + ".network_type"


def _hourglass(factory):
  def build(params):
    return factory(params.num_init_channels, initial_downsample=False)
  return build


registries.DEEPMAC_MASK_NETWORKS.register("hourglass10")(_hourglass(hourglass_network.hourglass_10))
registries.DEEPMAC_MASK_NETWORKS.register("hourglass20")(_hourglass(hourglass_network.hourglass_20))
registries.DEEPMAC_MASK_NETWORKS.register("hourglass32")(_hourglass(hourglass_network.hourglass_32))
registries.DEEPMAC_MASK_NETWORKS.register("hourglass52")(_hourglass(hourglass_network.hourglass_52))
registries.DEEPMAC_MASK_NETWORKS.register("hourglass100")(
    _hourglass(hourglass_network.hourglass_100))


@registries.DEEPMAC_MASK_NETWORKS.register("hourglass20_uniform_size")
def _hourglass20_uniform_size(params):
  return hourglass_network.hourglass_20_uniform_size(params.num_init_channels)


@registries.DEEPMAC_MASK_NETWORKS.register("hourglass20_no_shortcut")
def _hourglass20_no_shortcut(params):
  return hourglass_network.hourglass_20_no_shortcut(params.num_init_channels)


class PreActBasicBlock(keras.layers.Layer):
  """Keras-applications ResNet v2 "basic" block (the original's resnet_v1.block_basic).

  preact = relu(BN(x)); shortcut = 1x1 conv(preact) (with bias) when `conv_shortcut`, else x;
  out = shortcut + relu(BN(conv3x3(relu(BN(conv3x3(preact)))))). Convs have no bias; BN epsilon
  1.001e-5 and Keras default momentum (0.99), not synchronized (as the original); fused kernel
  (models/batch_norm.py).
  """

  def __init__(self, filters, conv_shortcut=False, **kwargs):
    super().__init__(**kwargs)
    self.preact_bn = batch_norm.BatchNormalization(epsilon=1.001e-5)
    self.shortcut = keras.layers.Conv2D(filters, 1) if conv_shortcut else None
    self.conv1 = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)
    self.bn1 = batch_norm.BatchNormalization(epsilon=1.001e-5)
    self.conv2 = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)
    self.bn2 = batch_norm.BatchNormalization(epsilon=1.001e-5)

  def call(self, inputs, training=False):
    preact = tf.nn.relu(self.preact_bn(inputs, training=training))
    shortcut = self.shortcut(preact) if self.shortcut is not None else inputs
    net = tf.nn.relu(self.bn1(self.conv1(preact), training=training))
    net = tf.nn.relu(self.bn2(self.conv2(net), training=training))
    return shortcut + net


class ResNetMaskNetwork(keras.layers.Layer):
  """1x1 conv(nc, bias) then stacks of pre-activation basic blocks (stride 1 everywhere)."""

  STACKS = {"resnet4": ((2, 2),), "resnet8": ((2, 4),), "resnet12": ((2, 6),),
            "resnet16": ((2, 8),), "resnet20": ((2, 8), (3, 2))}

  def __init__(self, network_type, num_init_channels, **kwargs):
    super().__init__(**kwargs)
    nc = num_init_channels
    self.input_layer = keras.layers.Conv2D(nc, 1)
    self.blocks = []
    for multiplier, num_blocks in self.STACKS[network_type]:
      for i in range(num_blocks):
        self.blocks.append(PreActBasicBlock(multiplier * nc, conv_shortcut=(i == 0)))

  def call(self, inputs, training=False):
    net = self.input_layer(inputs)
    for block in self.blocks:
      net = block(net, training=training)
    return net


def _resnet(network_type):
  def build(params):
    return ResNetMaskNetwork(network_type, params.num_init_channels)
  return build


for _name in ResNetMaskNetwork.STACKS:
  registries.DEEPMAC_MASK_NETWORKS.register(_name)(_resnet(_name))


class FullyConnectedMaskHead(keras.layers.Layer):
  """1x1 conv(nc) -> flatten -> Dense(1024, relu) -> Dense(S²) -> [N, S, S, 1].

  The original never passes mask_size to this head (it raises "Mask size must be set."); here
  it receives params.mask_size, so `fully_connected` works (crop mode only).
  """

  def __init__(self, num_init_channels, mask_size, **kwargs):
    super().__init__(**kwargs)
    self.mask_size = mask_size
    self.input_layer = keras.layers.Conv2D(num_init_channels, 1)
    self.fc1 = keras.layers.Dense(1024, activation="relu")
    self.fc2 = keras.layers.Dense(mask_size * mask_size)

  def call(self, inputs, training=False):
    net = self.input_layer(inputs)
    size = self.mask_size
    flat = tf.reshape(net, [-1, size * size * net.shape[-1]])
    return tf.reshape(self.fc2(self.fc1(flat)), [-1, size, size, 1])


@registries.DEEPMAC_MASK_NETWORKS.register("fully_connected")
def _fully_connected(params):
  return FullyConnectedMaskHead(params.num_init_channels, params.mask_size)


class _Identity(keras.layers.Layer):
  """The 'network' of parameter-free heads: the instance embedding does the work."""

  def call(self, inputs, training=False):
    return inputs


@registries.DEEPMAC_MASK_NETWORKS.register("embedding_projection", "cond_inst1", "cond_inst2",
                                           "cond_inst3")
def _param_free(params):
  return _Identity()


def embedding_projection(instance_embedding, pixel_embedding):
  """Per-pixel dot product: [N, D] x [N, S, S, D] -> [N, S, S, 1] logits."""
  return tf.reduce_sum(instance_embedding[:, None, None, :] * pixel_embedding, axis=-1,
                       keepdims=True)


def per_pixel_conditional_conv(inputs, weights, width, depth):
  """CondInst: a per-instance MLP on every pixel, its weights read from the instance embedding.

  Layers: in -> width (ReLU) -> ... -> 1 (depth layers; depth 1 is a single in -> 1 layer).
  Each layer's parameters are laid out as [in·out weights (row-major [in, out]), out biases].

  Args:
    inputs: [N, S, S, C] float32.
    weights: [N, P] float32, P = params_lib.cond_inst_num_weights(C, width, depth).
  Returns:
    [N, S, S, 1] float32 logits.
  """
  in_channels = inputs.shape[-1]
  expected = params_lib.cond_inst_num_weights(in_channels, width, depth)
  if weights.shape[-1] != expected:
    raise ValueError(f"per_pixel_conditional_conv: instance embedding has {weights.shape[-1]} "
                     f"values (expected {expected} for {in_channels} inputs, width {width}, "
                     f"depth {depth})")
  net, start = inputs, 0
  for layer in range(depth):
    out_channels = 1 if layer == depth - 1 else width
    count = in_channels * out_channels
    kernel = tf.reshape(weights[:, start:start + count], [-1, in_channels, out_channels])
    bias = weights[:, start + count:start + count + out_channels]
    start += count + out_channels
    net = tf.einsum("nhwc,nco->nhwo", net, kernel) + bias[:, None, None, :]
    if layer < depth - 1:
      net = tf.nn.relu(net)
    in_channels = out_channels
  return net


class MaskHeadNetwork(keras.layers.Layer):
  """The DeepMAC mask head: (instance embedding, pixel crops) -> mask logits.

  Args:
    params: DeepMACParams (network_type, num_init_channels, use_instance_embedding, mask_size).

  Call:
    instance_embedding: [N, dim] float32, the instance embedding at each box centre.
    pixel_inputs: [N, S, S, C] float32, cropped pixel embedding (+ 2 xy channels).
    training: bool.
  Returns: [N, S, S] float32 logits in the frame of each box (crop mode) or of the feature map.
  """

  def __init__(self, params, **kwargs):
    super().__init__(**kwargs)
    build = registries.DEEPMAC_MASK_NETWORKS.get(params.network_type, field_path=_FIELD)
    self.network_type = params.network_type
    self.num_init_channels = params.num_init_channels
    self.use_instance_embedding = params.use_instance_embedding
    self.param_free = params_lib.is_param_free(params.network_type)
    self.net = build(params)
    self.project_out = None if self.param_free else keras.layers.Conv2D(1, 1)

  def build(self, *args, **kwargs):
    # Sublayers build on their first call (their input shapes depend on the network type).
    self.built = True

  def call(self, instance_embedding, pixel_inputs, training=False):
    if self.use_instance_embedding:
      size = tf.shape(pixel_inputs)
      tiled = tf.tile(instance_embedding[:, None, None, :], [1, size[1], size[2], 1])
      inputs = tf.concat([pixel_inputs, tiled], axis=-1)
    else:
      inputs = pixel_inputs
    out = self.net(inputs, training=training)
    if isinstance(out, (list, tuple)):
      out = out[-1]
    if self.network_type == "embedding_projection":
      out = embedding_projection(instance_embedding, out)
    elif self.network_type.startswith("cond_inst"):
      out = per_pixel_conditional_conv(out, instance_embedding, self.num_init_channels,
                                       params_lib.cond_inst_depth(self.network_type))
    if out.shape[-1] > 1:
      out = self.project_out(out)
    return tf.cast(out[..., 0], tf.float32)  # bfloat16 under mixed precision; losses in float32
