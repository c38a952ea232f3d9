"""DeepMAC mask-head networks, registered by the `network_type` strings users write.

Every entry of `registries.DEEPMAC_MASK_NETWORKS` is a `MaskNetworkType`: how to build the
network's layers from `(num_init_channels, mask_size)`, how its logits come out, and what it
requires of the other DeepMAC settings. Register one with the `register` decorator on its build
function (`build(num_init_channels, mask_size) -> keras layer net(inputs [N, S, S, C_in],
training) -> [N, S, S, C]`, or a list whose last element is used). `MaskHeadNetwork` wraps it:
it builds the input (pixel crops + tiled instance embedding), runs the network, applies the
parameter-free heads (embedding projection, CondInst) or the 1x1 `project_out` conv to 1 channel
when the network returns more than one.

Parameter counts (C_in 50, nc 64, incl. project_out) match FEATURES.md §2, e.g. hourglass52
23.46 M, hourglass100 47.22 M, resnet4 0.53 M, fully_connected 68.16 M (mask_size 32).
"""

import dataclasses
import functools
from typing import Callable, Optional

import keras
import tensorflow as tf

from object_detection.core import registries
from object_detection.models import batch_norm
from object_detection.models import hourglass_network
from object_detection.core.containers import BuildOnCall
from object_detection.core.tracking import CheckpointableCollections


def _no_requirements(**settings):
  del settings
  return []


@dataclasses.dataclass(frozen=True)
class MaskNetworkType:
  """A resolved `network_type`.

  build: `(num_init_channels, mask_size) -> keras layer` (the network proper).
  instance_logits: None for networks with their own output (a 1x1 conv `project_out` maps their
    features to one channel), or `fn(instance_embedding [N, D], features [N, S, S, C],
    num_init_channels) -> [N, S, S, 1]` for the parameter-free heads whose weights are the
    instance embedding.
  requirements: `fn(*, dim, pixel_embedding_dim, use_xy, use_instance_embedding,
    num_init_channels, predict_full_resolution_masks) -> [(setting name, problem)]`: what the
    network needs of the other settings (the builder adds the config path to each name).
  """
  build: Callable
  instance_logits: Optional[Callable] = None
  requirements: Callable = _no_requirements

  @property
  def param_free(self):
    """True when the instance embedding holds the head's weights (no variables of its own)."""
    return self.instance_logits is not None


def register(*names, instance_logits=None, requirements=None):
  """Decorator registering `build(num_init_channels, mask_size)` under `names`."""
  def wrap(build):
    registries.DEEPMAC_MASK_NETWORKS.register(*names)(
        MaskNetworkType(build, instance_logits, requirements or _no_requirements))
    return build
  return wrap


def _hourglass(name, factory):
  @register(name)
  def build(num_init_channels, mask_size):
    del mask_size
    return factory(num_init_channels, initial_downsample=False)
  return build


_hourglass("hourglass10", hourglass_network.hourglass_10)
_hourglass("hourglass20", hourglass_network.hourglass_20)
_hourglass("hourglass32", hourglass_network.hourglass_32)
_hourglass("hourglass52", hourglass_network.hourglass_52)
_hourglass("hourglass100", hourglass_network.hourglass_100)


@register("hourglass20_uniform_size")
def _hourglass20_uniform_size(num_init_channels, mask_size):
  del mask_size
  return hourglass_network.hourglass_20_uniform_size(num_init_channels)


@register("hourglass20_no_shortcut")
def _hourglass20_no_shortcut(num_init_channels, mask_size):
  del mask_size
  return hourglass_network.hourglass_20_no_shortcut(num_init_channels)


class PreActBasicBlock(BuildOnCall, keras.layers.Layer):
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


class ResNetMaskNetwork(CheckpointableCollections, BuildOnCall, keras.layers.Layer):
  """1x1 conv(nc, bias) then stacks of pre-activation basic blocks (stride 1 everywhere).

  The blocks live in a list (`blocks`), exposed to tf.train.Checkpoint by
  CheckpointableCollections (checkpoint keys `.../net/blocks/<i>/<layer>/...`).
  """

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


def _resnet(name):
  @register(name)
  def build(num_init_channels, mask_size):
    del mask_size
    return ResNetMaskNetwork(name, num_init_channels)
  return build


for _name in ResNetMaskNetwork.STACKS:
  _resnet(_name)


class FullyConnectedMaskHead(BuildOnCall, keras.layers.Layer):
  """1x1 conv(nc) -> flatten -> Dense(1024, relu) -> Dense(S²) -> [N, S, S, 1].

  The original never passes mask_size to this head (it raises "Mask size must be set."); here
  it receives mask_size, so `fully_connected` works (crop mode only).
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


def _crop_mode_only(*, predict_full_resolution_masks, **settings):
  del settings
  if predict_full_resolution_masks:
    return [("network_type", "fully_connected predicts a fixed mask_size x mask_size output and "
             "cannot run on full-resolution maps (got predict_full_resolution_masks: true; "
             "expected false)")]
  return []


@register("fully_connected", requirements=_crop_mode_only)
def _fully_connected(num_init_channels, mask_size):
  return FullyConnectedMaskHead(num_init_channels, mask_size)


class _Identity(BuildOnCall, keras.layers.Layer):
  """The 'network' of parameter-free heads: the instance embedding does the work."""

  def call(self, inputs, training=False):
    return inputs


def _identity(num_init_channels, mask_size):
  del num_init_channels, mask_size
  return _Identity()


def embedding_projection(instance_embedding, pixel_embedding):
  """Per-pixel dot product: [N, D] x [N, S, S, D] -> [N, S, S, 1] logits."""
  return tf.reduce_sum(instance_embedding[:, None, None, :] * pixel_embedding, axis=-1,
                       keepdims=True)


def cond_inst_num_weights(in_channels, width, depth):
  """Number of MLP weights a cond_inst{depth} instance embedding holds (original's formula).

  depth 1: one in -> 1 layer (the original requires in == width: width + 1 values).
  depth D > 1: in -> w, (D-2) x w -> w, w -> 1, each with biases.
  """
  if depth == 1:
    return in_channels + 1
  return in_channels * width + width * width * (depth - 2) + width * (depth - 1) + width + 1


def per_pixel_conditional_conv(inputs, weights, width, depth):
  """CondInst: a per-instance MLP on every pixel, its weights read from the instance embedding.

  Layers: in -> width (ReLU) -> ... -> 1 (depth layers; depth 1 is a single in -> 1 layer).
  Each layer's parameters are laid out as [in·out weights (row-major [in, out]), out biases].

  Args:
    inputs: [N, S, S, C] float32.
    weights: [N, P] float32, P = cond_inst_num_weights(C, width, depth).
  Returns:
    [N, S, S, 1] float32 logits.
  """
  in_channels = inputs.shape[-1]
  expected = cond_inst_num_weights(in_channels, width, depth)
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


def _no_instance_input(name, use_instance_embedding):
  if use_instance_embedding:
    return [("use_instance_embedding", f"network_type {name!r} has no parameters: the instance "
             "embedding is its weights, not an input (got true; expected false)")]
  return []


def _projection_requirements(*, dim, pixel_embedding_dim, use_xy, use_instance_embedding,
                             **settings):
  del settings
  problems = _no_instance_input("embedding_projection", use_instance_embedding)
  if use_xy:
    problems.append(("use_xy", "embedding_projection takes the pixel embedding only (got true; "
                     "expected false)"))
  if dim != pixel_embedding_dim:
    problems.append(("dim", "embedding_projection is a dot product of the two embeddings (got "
                     f"dim {dim}; expected pixel_embedding_dim = {pixel_embedding_dim})"))
  return problems


@register("embedding_projection", instance_logits=(
    lambda instance_embedding, features, num_init_channels: embedding_projection(
        instance_embedding, features)), requirements=_projection_requirements)
def _embedding_projection(num_init_channels, mask_size):
  return _identity(num_init_channels, mask_size)


def _cond_inst_requirements(depth, *, dim, pixel_embedding_dim, use_xy, use_instance_embedding,
                            num_init_channels, **settings):
  del settings
  name = f"cond_inst{depth}"
  problems = _no_instance_input(name, use_instance_embedding)
  in_channels = pixel_embedding_dim + 2 * int(use_xy)
  if depth == 1 and num_init_channels != in_channels:
    problems.append(("num_init_channels", "cond_inst1 is one layer from the mask inputs to the "
                     f"logit, its width is the input width, as the original (got "
                     f"{num_init_channels}; expected {in_channels})"))
  expected = cond_inst_num_weights(in_channels, num_init_channels, depth)
  if dim != expected:
    problems.append(("dim", f"{name} stores a {depth}-layer per-pixel MLP in the instance "
                     f"embedding (got dim {dim}; expected {expected} for {in_channels} input "
                     f"channels and num_init_channels {num_init_channels})"))
  return problems


def _cond_inst_logits(instance_embedding, features, num_init_channels, depth):
  return per_pixel_conditional_conv(features, instance_embedding, num_init_channels, depth)


for _depth in (1, 2, 3):
  register(f"cond_inst{_depth}",
           instance_logits=functools.partial(_cond_inst_logits, depth=_depth),
           requirements=functools.partial(_cond_inst_requirements, _depth))(_identity)


class MaskHeadNetwork(keras.layers.Layer):
  """The DeepMAC mask head: (instance embedding, pixel crops) -> mask logits.

  Args:
    network: MaskNetworkType (a resolved network_type).
    num_init_channels: int, channels of the network's first block (CondInst: MLP width).
    mask_size: int, the crop size S (the fully_connected head's fixed output size).
    use_instance_embedding: bool, concatenate the tiled instance embedding to the inputs.

  Call:
    instance_embedding: [N, dim] float32, the instance embedding at each box centre.
    pixel_inputs: [N, S, S, C] float32, cropped pixel embedding (+ 2 xy channels).
    training: bool.
  Returns: [N, S, S] float32 logits in the frame of each box (crop mode) or of the feature map.
  """

  def __init__(self, network, num_init_channels, mask_size, use_instance_embedding=True,
               **kwargs):
    super().__init__(**kwargs)
    self.num_init_channels = num_init_channels
    self.use_instance_embedding = use_instance_embedding
    self._instance_logits = network.instance_logits
    self.net = network.build(num_init_channels, mask_size)
    self.project_out = None if network.param_free else keras.layers.Conv2D(1, 1)

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
    if self._instance_logits is not None:
      out = self._instance_logits(instance_embedding, out, self.num_init_channels)
    if out.shape[-1] > 1:
      out = self.project_out(out)
    return tf.cast(out[..., 0], tf.float32)  # bfloat16 under mixed precision; losses in float32
