"""Layer hyperparameters as plain values: what a `Hyperparams` message means for the conv and
dense layers it configures (the original's KerasLayerHyperparams), without the message.

builders/hyperparams_builder.py translates the message; layers then ask for their arguments:

  conv = keras.layers.Conv2D(256, 3, padding="same", **hp.layer_kwargs())
  norm = hp.build_normalization()        # None without batch norm
  act = hp.build_activation()            # Identity for a linear layer
  block = hp.conv_block(256, 3)          # all three: ConvNormAct

Semantics kept from the original:
- Layers have no bias when a centred batch norm follows them, unless force_use_bias.
- BatchNormParams.momentum is Keras momentum (the proto's `decay`); `train: false` freezes the
  batch-norm layer (trainable=False).
Every layer gets a fresh initializer instance: Keras 3 initializers with a fixed seed return the
same values on every call, so one shared instance would give identical kernels.
"""

import dataclasses
from typing import Optional

import keras


@dataclasses.dataclass(frozen=True)
class BatchNormParams:
  """Batch-norm settings. momentum: moving = momentum * moving + (1 - momentum) * batch.

  train: False freezes the layer (inference statistics, no updates, no trainable weights).
  synchronized: statistics over all replicas (the proto's sync_batch_norm).
  """
  momentum: float = 0.999
  epsilon: float = 0.001
  center: bool = True
  scale: bool = False
  train: bool = True
  synchronized: bool = False


@dataclasses.dataclass(frozen=True)
class InitializerSpec:
  """A Keras initializer: class name and constructor arguments (a fresh instance per use)."""
  name: str
  config: tuple = ()

  def build(self):
    """A new keras initializer instance."""
    if not self.config:
      return keras.initializers.get(self.name)
    return getattr(keras.initializers, self.name)(**dict(self.config))


@dataclasses.dataclass(frozen=True)
class RegularizerSpec:
  """kind: "l1" or "l2"; factor: the Keras factor (for l2 already 0.5 x the slim weight)."""
  kind: str
  factor: float

  def build(self):
    """A new keras regularizer instance."""
    if self.kind == "l1":
      return keras.regularizers.L1(self.factor)
    return keras.regularizers.L2(self.factor)


def truncated_normal(stddev, mean=0.0):
  """InitializerSpec of keras TruncatedNormal(mean, stddev)."""
  return InitializerSpec("TruncatedNormal", (("mean", mean), ("stddev", stddev)))


@dataclasses.dataclass(frozen=True)
class LayerHyperparams:
  """Initializer, regularizer, activation and normalisation of conv / dense layers.

  initializer: InitializerSpec of the kernels.
  regularizer: RegularizerSpec of the kernels, or None.
  activation: anything keras.activations.get accepts ("relu", "relu6", "swish"), or None.
  batch_norm: BatchNormParams, or None (no normalisation).
  force_use_bias: keep the bias even when a centred batch norm follows.
  """
  initializer: InitializerSpec = InitializerSpec("glorot_uniform")
  regularizer: Optional[RegularizerSpec] = None
  activation: Optional[str] = "relu"
  batch_norm: Optional[BatchNormParams] = None
  force_use_bias: bool = False

  @property
  def use_bias(self):
    """False when a centred batch norm follows the layer (it has its own offset)."""
    return self.force_use_bias or not (self.batch_norm is not None and self.batch_norm.center)

  def layer_kwargs(self, **overrides):
    """kwargs of keras Conv2D / Dense / Conv2DTranspose: a fresh kernel_initializer,
    kernel_regularizer, use_bias and activation None (callers add build_activation() after
    the normalisation); `overrides` replace any entry."""
    kwargs = {
        "kernel_initializer": self.initializer.build(),
        "kernel_regularizer": self.regularizer.build() if self.regularizer else None,
        "use_bias": self.use_bias,
        "activation": None,
    }
    kwargs.update(overrides)
    return kwargs

  def build_normalization(self, name=None):
    """keras BatchNormalization (synchronized for sync_batch_norm, frozen for `train: false`),
    or None without batch norm."""
    if self.batch_norm is None:
      return None
    bn = self.batch_norm
    layer = keras.layers.BatchNormalization(
        momentum=bn.momentum, epsilon=bn.epsilon, center=bn.center, scale=bn.scale,
        synchronized=bn.synchronized, name=name)
    if not bn.train:
      layer.trainable = False
    return layer

  def build_activation(self, name=None):
    """keras layer applying the activation (Identity for None)."""
    if self.activation is None:
      return keras.layers.Identity(name=name)
    return keras.layers.Activation(self.activation, name=name)

  def conv_block(self, filters, kernel_size, name=None, **conv_overrides):
    """ConvNormAct: Conv2D (padding "same") -> batch norm (if configured) -> activation."""
    return ConvNormAct(self, filters, kernel_size, name=name, **conv_overrides)


class ConvNormAct(keras.layers.Layer):
  """Conv2D + optional batch norm + activation, configured by a LayerHyperparams.

  Attributes (checkpoint children): conv, norm (None without batch norm), act.
  call(inputs [B, H, W, C] float32, training) -> [B, H', W', filters] float32.
  """

  def __init__(self, hyperparams, filters, kernel_size, name=None, **conv_overrides):
    super().__init__(name=name)
    conv_overrides.setdefault("padding", "same")
    self.conv = keras.layers.Conv2D(filters, kernel_size, name="conv",
                                    **hyperparams.layer_kwargs(**conv_overrides))
    self.norm = hyperparams.build_normalization(name="batchnorm")
    self.act = hyperparams.build_activation(name="activation")

  def call(self, inputs, training=False):
    x = self.conv(inputs)
    if self.norm is not None:
      x = self.norm(x, training=training)
    return self.act(x)
