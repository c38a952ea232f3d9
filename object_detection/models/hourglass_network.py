"""Hourglass networks (Newell et al. 2016, as used by CenterNet and DeepMAC), in Keras 3.

Semantics, layer structure and parameter counts follow the original Object Detection API's
`models/keras_models/hourglass_network.py` (hourglass_104 backbone: 187.7 M parameters). Attribute
names (`downsample_input`, `hourglass_network`, `output_conv`, `intermediate_conv1`, ...) are the
original's, so that a checkpoint converter can map variables one to one.

Building blocks:
  ConvolutionalBlock  k x k conv (no bias, explicit symmetric zero padding for k > 1) + BN [+ ReLU]
  ResidualBlock       ConvolutionalBlock(k, stride) -> k x k conv + BN, plus a skip (identity or
                      1x1 conv + BN when the stride or the channel count changes) -> ReLU
  EncoderDecoderBlock one stage: encoder (identity resolution) + encoder (stride 2) -> inner stage
                      -> decoder -> nearest 2x upsampling -> add
  HourglassNetwork    input block (7x7/2 conv + residual/2, or 3x3 conv + residual) and
                      `num_hourglasses` stacked encoder-decoders with intermediate 1x1 convs.

Batch norm everywhere: `BatchNormalization(synchronized=True, momentum=0.1, epsilon=1e-5)`
(Keras momentum semantics: the moving statistics keep only 10% of their old value per step, as
the original; this is parity-critical for fine-tuning), on the fused kernel
(models/batch_norm.py).
"""

import keras
import tensorflow as tf

from object_detection.core.containers import BuildOnCall
from object_detection.core.tracking import CheckpointableCollections
from object_detection.models import batch_norm

BATCH_NORM_EPSILON = 1e-5
BATCH_NORM_MOMENTUM = 0.1


def batchnorm():
  """The hourglass batch norm: synchronized across replicas, momentum 0.1, epsilon 1e-5."""
  return batch_norm.BatchNormalization(
      synchronized=True, momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON)


class ConvolutionalBlock(BuildOnCall, keras.layers.Layer):
  """Conv (no bias) + batch norm + optional ReLU.

  Kernels larger than 1 pad symmetrically by (k - 1) // 2 (as the original): with stride 2 by
  explicit zero padding and a 'valid' convolution (Keras 'same' would pad asymmetrically there),
  with stride 1 by a 'same' convolution, which is that same padding.
  """

  def __init__(self, kernel_size, out_channels, stride=1, relu=True, **kwargs):
    super().__init__(**kwargs)
    if kernel_size not in (1, 3, 7):
      raise ValueError(
          f"ConvolutionalBlock: unsupported kernel_size (got {kernel_size}; expected 1, 3 or 7)")
    pad = (kernel_size - 1) // 2
    # Stride 1: Keras 'same' is that same symmetric padding, done inside the convolution kernel
    # (an explicit ZeroPadding2D costs a Pad forward and a Slice backward: 0.4 s of an 18 s
    # DeepMAC 512 train step, profiled on a loaded 2-core CPU).
    same = stride == 1 and pad > 0
    self.pad = keras.layers.ZeroPadding2D(pad) if pad and not same else None
    # A strided 1x1 conv is computed as subsampling + a stride-1 1x1 conv (the same function
    # and the same kernel variable): TF 2.21's oneDNN Conv2DBackpropFilter of a 1x1 stride-2
    # conv corrupts the heap inside tf.function on CPU for small channel counts (seen with
    # 3 -> 8 channels; "double free or corruption"), which tiny test/debug models hit.
    self._subsample = stride if (kernel_size == 1 and stride > 1) else 1
    self.conv = keras.layers.Conv2D(
        out_channels, kernel_size, strides=1 if self._subsample > 1 else stride,
        padding="same" if same else "valid", use_bias=False)
    self.norm = batchnorm()
    self.relu = keras.layers.ReLU() if relu else None

  def call(self, inputs, training=False):
    net = self.pad(inputs) if self.pad is not None else inputs
    if self._subsample > 1 and training is False:
      # Inference: one strided 1x1 conv (the oneDNN bug above is in the backward pass). The
      # subsampling slice cost a full extra pass over the block input (~100 ms of a 3 s HG-104
      # step at 512x512 on CPU).
      if not self.conv.built:
        self.conv.build(net.shape)
      net = tf.nn.conv2d(net, tf.cast(self.conv.kernel, net.dtype), strides=self._subsample,
                         padding="VALID")
      return self._finish(net, training)
    if self._subsample > 1:
      net = net[:, ::self._subsample, ::self._subsample, :]
    return self._finish(self.conv(net), training)

  def _finish(self, net, training):
    net = self.norm(net, training=training)
    return self.relu(net) if self.relu is not None else net


class SkipConvolution(ConvolutionalBlock):
  """1x1 conv + BN (no ReLU) used on the residual shortcut when shapes change."""

  def __init__(self, out_channels, stride, **kwargs):
    super().__init__(kernel_size=1, out_channels=out_channels, stride=stride, relu=False,
                     **kwargs)


class ResidualBlock(BuildOnCall, keras.layers.Layer):
  """relu(BN(conv(ConvolutionalBlock(x))) + skip(x)); the stride applies to the first conv."""

  def __init__(self, out_channels, skip_conv=False, kernel_size=3, stride=1, **kwargs):
    super().__init__(**kwargs)
    self.conv_block = ConvolutionalBlock(kernel_size, out_channels, stride=stride)
    self.conv = keras.layers.Conv2D(
        out_channels, kernel_size, strides=1, padding="same", use_bias=False)
    self.norm = batchnorm()
    self.skip = SkipConvolution(out_channels, stride) if skip_conv else None
    self.relu = keras.layers.ReLU()

  def call(self, inputs, training=False):
    net = self.conv_block(inputs, training=training)
    net = self.norm(self.conv(net), training=training)
    shortcut = self.skip(inputs, training=training) if self.skip is not None else inputs
    return self.relu(net + shortcut)


class InputDownsampleBlock(BuildOnCall, keras.layers.Layer):
  """7x7/2 ConvolutionalBlock + stride-2 ResidualBlock with skip conv (input stride 4)."""

  def __init__(self, out_channels_initial_conv, out_channels_residual_block, **kwargs):
    super().__init__(**kwargs)
    self.conv_block = ConvolutionalBlock(7, out_channels_initial_conv, stride=2)
    self.residual_block = ResidualBlock(out_channels_residual_block, skip_conv=True, stride=2)

  def call(self, inputs, training=False):
    return self.residual_block(self.conv_block(inputs, training=training), training=training)


class InputConvBlock(BuildOnCall, keras.layers.Layer):
  """3x3 ConvolutionalBlock + ResidualBlock with skip conv (keeps the resolution)."""

  def __init__(self, out_channels_initial_conv, out_channels_residual_block, **kwargs):
    super().__init__(**kwargs)
    self.conv_block = ConvolutionalBlock(3, out_channels_initial_conv, stride=1)
    self.residual_block = ResidualBlock(out_channels_residual_block, skip_conv=True, stride=1)

  def call(self, inputs, training=False):
    return self.residual_block(self.conv_block(inputs, training=training), training=training)


def make_repeated_residual_blocks(out_channels, num_blocks, initial_stride=1,
                                  residual_channels=None, initial_skip_conv=False):
  """Returns a list of `num_blocks` ResidualBlocks applied in sequence.

  The first block carries `initial_stride` (and a skip conv when it strides, or when
  `initial_skip_conv`); intermediate blocks have `residual_channels` outputs; the last block
  maps to `out_channels` (skip conv when the channel count changes). With one block, that block
  carries the stride and gets a skip conv when it strides or the channels change. (The original
  only checks the stride there, so a one-block stage that changes channels crashes on the
  shortcut add; no registered network has such a stage, so counts and outputs are unchanged.)
  """
  if residual_channels is None:
    residual_channels = out_channels
  blocks = []
  for i in range(num_blocks - 1):
    stride = initial_stride if i == 0 else 1
    skip_conv = stride > 1 or (i == 0 and initial_skip_conv)
    blocks.append(ResidualBlock(residual_channels, skip_conv=skip_conv, stride=stride))
  if num_blocks == 1:
    stride = initial_stride
    skip_conv = stride > 1 or initial_skip_conv or residual_channels != out_channels
  else:
    stride = 1
    skip_conv = residual_channels != out_channels
  blocks.append(ResidualBlock(out_channels, skip_conv=skip_conv, stride=stride))
  return blocks


def _apply_blocks(inputs, blocks, training):
  net = inputs
  for block in blocks:
    net = block(net, training=training)
  return net


class EncoderDecoderBlock(CheckpointableCollections, BuildOnCall, keras.layers.Layer):
  """One hourglass stage, recursively containing the inner stages.

  channel_dims[0] is this stage's resolution channel count, channel_dims[1] the downsampled one;
  blocks_per_stage[0] blocks are used by both encoders and the decoder of this stage; the
  innermost stage (num_stages == 1) uses blocks_per_stage[1] blocks at the lowest resolution.
  """

  def __init__(self, num_stages, channel_dims, blocks_per_stage, stagewise_downsample=True,
               encoder_decoder_shortcut=True, **kwargs):
    super().__init__(**kwargs)
    out_channels, out_channels_downsampled = channel_dims[0], channel_dims[1]
    self.encoder_decoder_shortcut = encoder_decoder_shortcut
    if encoder_decoder_shortcut:
      self.encoder_block1 = make_repeated_residual_blocks(
          out_channels, blocks_per_stage[0], initial_stride=1)
    initial_stride = 2 if stagewise_downsample else 1
    self.encoder_block2 = make_repeated_residual_blocks(
        out_channels_downsampled, blocks_per_stage[0], initial_stride=initial_stride,
        initial_skip_conv=out_channels != out_channels_downsampled)
    if num_stages > 1:
      self.inner_block = [EncoderDecoderBlock(
          num_stages - 1, channel_dims[1:], blocks_per_stage[1:],
          stagewise_downsample=stagewise_downsample,
          encoder_decoder_shortcut=encoder_decoder_shortcut)]
    else:
      self.inner_block = make_repeated_residual_blocks(
          out_channels_downsampled, blocks_per_stage[1])
    self.decoder_block = make_repeated_residual_blocks(
        out_channels, blocks_per_stage[0], residual_channels=out_channels_downsampled)
    self.upsample = keras.layers.UpSampling2D(initial_stride, interpolation="nearest")

  def call(self, inputs, training=False):
    down = _apply_blocks(inputs, self.encoder_block2, training)
    inner = _apply_blocks(down, self.inner_block, training)
    upsampled = self.upsample(_apply_blocks(inner, self.decoder_block, training))
    if not self.encoder_decoder_shortcut:
      return upsampled
    return _apply_blocks(inputs, self.encoder_block1, training) + upsampled


class HourglassNetwork(CheckpointableCollections, BuildOnCall, keras.layers.Layer):
  """Stacked hourglass network.

  Args:
    num_stages: int, number of encoder-decoder stages (each halves the resolution when
      stagewise_downsample).
    blocks_per_stage: list of num_stages + 1 ints, residual blocks per stage.
    channel_dims: list of num_stages + 1 ints, output channels per stage (channel_dims[0] is the
      channel count of every output).
    input_channel_dims: int, channels of the initial 7x7 (or 3x3) conv.
    num_hourglasses: int, number of stacked hourglasses (= number of outputs).
    initial_downsample: bool, 7x7/2 conv + stride-2 residual (output stride 4) instead of a 3x3
      conv + residual (output stride 1).
    stagewise_downsample: bool, stride 2 in the first encoder block of every stage.
    encoder_decoder_shortcut: bool, add the full-resolution encoder output to the decoder output.

  Call: images [B, H, W, C_in] float32 -> list (one per hourglass) of
    [B, H/s, W/s, channel_dims[0]] float32, s = out_stride. H and W must be divisible by
    s * 2**num_stages when stagewise_downsample (else the additive shortcuts mismatch).
  """

  def __init__(self, num_stages, blocks_per_stage, channel_dims, input_channel_dims,
               num_hourglasses=1, initial_downsample=True, stagewise_downsample=True,
               encoder_decoder_shortcut=True, **kwargs):
    super().__init__(**kwargs)
    if len(channel_dims) != num_stages + 1 or len(blocks_per_stage) != num_stages + 1:
      raise ValueError(
          "HourglassNetwork: channel_dims and blocks_per_stage need num_stages + 1 entries "
          f"(got {len(channel_dims)} and {len(blocks_per_stage)}; expected {num_stages + 1})")
    self.num_hourglasses = num_hourglasses
    self.num_stages = num_stages
    self.initial_downsample = initial_downsample
    self.stagewise_downsample = stagewise_downsample
    if initial_downsample:
      self.downsample_input = InputDownsampleBlock(input_channel_dims, channel_dims[0])
    else:
      self.conv_input = InputConvBlock(input_channel_dims, channel_dims[0])
    self.hourglass_network = []
    self.output_conv = []
    for _ in range(num_hourglasses):
      self.hourglass_network.append(EncoderDecoderBlock(
          num_stages, channel_dims, blocks_per_stage,
          stagewise_downsample=stagewise_downsample,
          encoder_decoder_shortcut=encoder_decoder_shortcut))
      self.output_conv.append(ConvolutionalBlock(3, channel_dims[0]))
    self.intermediate_conv1 = []
    self.intermediate_conv2 = []
    self.intermediate_residual = []
    for _ in range(num_hourglasses - 1):
      self.intermediate_conv1.append(ConvolutionalBlock(1, channel_dims[0], relu=False))
      self.intermediate_conv2.append(ConvolutionalBlock(1, channel_dims[0], relu=False))
      self.intermediate_residual.append(ResidualBlock(channel_dims[0]))
    self.intermediate_relu = keras.layers.ReLU()

  @property
  def out_stride(self):
    """Input pixels per output cell: 4 with initial_downsample, else 1."""
    return 4 if self.initial_downsample else 1

  @property
  def num_feature_outputs(self):
    return self.num_hourglasses

  def call(self, images, training=False):
    if self.initial_downsample:
      inputs = self.downsample_input(images, training=training)
    else:
      inputs = self.conv_input(images, training=training)
    outputs = []
    for i in range(self.num_hourglasses):
      output = self.output_conv[i](
          self.hourglass_network[i](inputs, training=training), training=training)
      outputs.append(output)
      if i < self.num_hourglasses - 1:
        merged = (self.intermediate_conv1[i](inputs, training=training) +
                  self.intermediate_conv2[i](output, training=training))
        inputs = self.intermediate_residual[i](self.intermediate_relu(merged),
                                               training=training)
    return outputs


def single_stack_hourglass(input_channel_dims, channel_dims, blocks_per_stage,
                           initial_downsample=True, stagewise_downsample=True,
                           encoder_decoder_shortcut=True):
  """One hourglass with len(channel_dims) - 1 stages."""
  if len(channel_dims) != len(blocks_per_stage):
    raise ValueError(
        "single_stack_hourglass: channel_dims and blocks_per_stage differ in length "
        f"(got {len(channel_dims)} and {len(blocks_per_stage)}; expected equal)")
  return HourglassNetwork(
      num_stages=len(channel_dims) - 1, blocks_per_stage=blocks_per_stage,
      channel_dims=channel_dims, input_channel_dims=input_channel_dims, num_hourglasses=1,
      initial_downsample=initial_downsample, stagewise_downsample=stagewise_downsample,
      encoder_decoder_shortcut=encoder_decoder_shortcut)


def _channels(nc, multipliers):
  return [nc * m for m in multipliers]


def hourglass_10(num_channels, initial_downsample=True):
  """1 stage, blocks [1, 1], channels [2nc, 2nc]."""
  return single_stack_hourglass(num_channels, _channels(num_channels, [2, 2]), [1, 1],
                                initial_downsample=initial_downsample)


def hourglass_20(num_channels, initial_downsample=True):
  """2 stages, blocks [1, 2, 2], channels [2nc, 2nc, 3nc]."""
  return single_stack_hourglass(num_channels, _channels(num_channels, [2, 2, 3]), [1, 2, 2],
                                initial_downsample=initial_downsample)


def hourglass_32(num_channels, initial_downsample=True):
  """3 stages, blocks [2, 2, 2, 2], channels [2nc, 2nc, 3nc, 3nc]."""
  return single_stack_hourglass(num_channels, _channels(num_channels, [2, 2, 3, 3]),
                                [2, 2, 2, 2], initial_downsample=initial_downsample)


def hourglass_52(num_channels, initial_downsample=True):
  """5 stages, blocks [2, 2, 2, 2, 2, 4], channels [2nc, 2nc, 3nc, 3nc, 3nc, 4nc]."""
  return single_stack_hourglass(num_channels, _channels(num_channels, [2, 2, 3, 3, 3, 4]),
                                [2, 2, 2, 2, 2, 4], initial_downsample=initial_downsample)


def hourglass_100(num_channels, initial_downsample=True):
  """5 stages, blocks [4, 4, 4, 4, 4, 8], channels [2nc, 2nc, 3nc, 3nc, 3nc, 4nc]."""
  return single_stack_hourglass(num_channels, _channels(num_channels, [2, 2, 3, 3, 3, 4]),
                                [4, 4, 4, 4, 4, 8], initial_downsample=initial_downsample)


def hourglass_104(num_channels=128, initial_downsample=True):
  """The CenterNet Hourglass-104 backbone: 2 stacks of 5 stages, 187.7 M parameters.

  With the default num_channels=128: input conv 128, channels [256, 256, 384, 384, 384, 512],
  blocks [2, 2, 2, 2, 2, 4] (the original's `hourglass_104()`, which takes no arguments).
  """
  return HourglassNetwork(
      num_stages=5, blocks_per_stage=[2, 2, 2, 2, 2, 4],
      channel_dims=_channels(num_channels, [2, 2, 3, 3, 3, 4]),
      input_channel_dims=num_channels, num_hourglasses=2,
      initial_downsample=initial_downsample)


def hourglass_20_uniform_size(num_channels):
  """hourglass_20 without any downsampling (3x3 input conv, no stagewise stride)."""
  return single_stack_hourglass(num_channels, _channels(num_channels, [2, 2, 3]), [1, 2, 2],
                                initial_downsample=False, stagewise_downsample=False)


def hourglass_20_no_shortcut(num_channels):
  """hourglass_20 with a 3x3 input conv and no encoder-decoder additive shortcuts."""
  return single_stack_hourglass(num_channels, _channels(num_channels, [2, 2, 3]), [1, 2, 2],
                                initial_downsample=False, encoder_decoder_shortcut=False)
