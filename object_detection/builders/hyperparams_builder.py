"""Builds Keras layer arguments from a Hyperparams message (the original's KerasLayerHyperparams).

`build(message)` returns a frozen `LayerHyperparams`; heads then ask it for layers:

  hp = hyperparams_builder.build(config.conv_hyperparams, field_path="...conv_hyperparams")
  conv = keras.layers.Conv2D(256, 3, padding="same", **hp.conv_kwargs())
  norm = hp.build_normalization()        # None when the config has no batch norm
  act = hp.build_activation()
  # or all three at once: hp.conv_block(256, 3)

Semantics kept from the original:
- l2_regularizer.weight w -> keras.regularizers.L2(0.5 * w) (the slim L2 convention,
  w * sum(x^2) / 2); l1 -> L1(w).
- variance_scaling_initializer -> keras VarianceScaling(scale=factor, mode=fan_in/fan_out/fan_avg,
  distribution "uniform" or "truncated_normal").
- Layers have no bias when batch norm with center=true follows them, unless force_use_bias.
- batch_norm.decay is the Keras momentum. `train: false` freezes the batch-norm layer, as the
  original's slim path does (its Keras path ignored `train`; no reference config sets it).
Every layer gets a fresh initializer instance: Keras 3 initializers with a fixed seed return the
same values on every call, so one shared instance would give identical kernels.
"""

import dataclasses
from typing import Optional

import keras

from object_detection.core.errors import ConfigError

_HYPERPARAMS = "object_detection.protos.Hyperparams"


@dataclasses.dataclass(frozen=True)
class BatchNormParams:
  """Batch-norm settings. momentum: moving = momentum * moving + (1 - momentum) * batch."""
  momentum: float = 0.999
  epsilon: float = 0.001
  center: bool = True
  scale: bool = False
  train: bool = True
  synchronized: bool = False


@dataclasses.dataclass(frozen=True)
class InitializerSpec:
  """A Keras initializer described by class name and config (instantiated fresh on each use)."""
  name: str
  config: tuple = ()

  def build(self):
    """A new keras initializer instance."""
    if not self.config:
      return keras.initializers.get(self.name)
    return getattr(keras.initializers, self.name)(**dict(self.config))

  def keras_config(self):
    """What `keras.initializers.get` accepts: the name, or {"class_name", "config"}."""
    if not self.config:
      return self.name
    return {"class_name": self.name, "config": dict(self.config)}


@dataclasses.dataclass(frozen=True)
class RegularizerSpec:
  """kind: "l1" or "l2"; factor: the Keras factor (already 0.5 * weight for l2)."""
  kind: str
  factor: float

  def build(self):
    """A new keras regularizer instance."""
    return keras.regularizers.L1(self.factor) if self.kind == "l1" else keras.regularizers.L2(
        self.factor)

  def keras_config(self):
    """What `keras.regularizers.get` accepts: {"class_name", "config"}."""
    if self.kind == "l1":
      return {"class_name": "L1", "config": {"l1": self.factor}}
    return {"class_name": "L2", "config": {"l2": self.factor}}


_ACTIVATIONS = {0: None, 1: "relu", 2: "relu6", 3: "swish"}


@dataclasses.dataclass(frozen=True)
class LayerHyperparams:
  """What a Hyperparams message says about the conv / dense layers it applies to.

  op: "conv" or "fc".
  initializer: InitializerSpec of the kernels.
  regularizer: RegularizerSpec of the kernels, or None.
  activation: "relu", "relu6", "swish" or None.
  batch_norm: BatchNormParams or None (no normalisation).
  regularize_depthwise: also regularize depthwise kernels of separable convolutions.
  force_use_bias: keep the bias even when batch norm follows.
  """
  initializer: InitializerSpec
  regularizer: Optional[RegularizerSpec] = None
  activation: Optional[str] = "relu"
  batch_norm: Optional[BatchNormParams] = None
  op: str = "conv"
  regularize_depthwise: bool = False
  force_use_bias: bool = False

  @property
  def use_batch_norm(self):
    return self.batch_norm is not None

  @property
  def use_bias(self):
    """False when a centred batch norm follows the layer (it has its own offset)."""
    return self.force_use_bias or not (self.batch_norm is not None and self.batch_norm.center)

  def layer_kwargs(self, include_activation=False, **overrides):
    """kwargs for keras Conv2D / Dense / Conv2DTranspose (fresh initializer each call).

    Args:
      include_activation: put the activation in the layer (else "activation": None and the caller
        adds build_activation() after the normalisation).
      **overrides: replace any of the returned entries.
    Returns:
      dict with kernel_initializer, kernel_regularizer, use_bias and activation.
    """
    kwargs = {
        "kernel_initializer": self.initializer.build(),
        "kernel_regularizer": self.regularizer.build() if self.regularizer else None,
        "use_bias": self.use_bias,
        "activation": self.activation if include_activation else None,
    }
    kwargs.update(overrides)
    return kwargs

  conv_kwargs = layer_kwargs
  dense_kwargs = layer_kwargs

  def batch_norm_kwargs(self):
    """kwargs of keras.layers.BatchNormalization, or None without batch norm.

    (`train: false` is not a constructor argument: set `layer.trainable = False`, as
    build_normalization does.)
    """
    if self.batch_norm is None:
      return None
    bn = self.batch_norm
    return dict(momentum=bn.momentum, epsilon=bn.epsilon, center=bn.center, scale=bn.scale,
                synchronized=bn.synchronized)

  def build_normalization(self, name=None, **overrides):
    """keras BatchNormalization (synchronized for sync_batch_norm), or None without batch norm.

    `train: false` gives a frozen layer (trainable=False: inference statistics, no updates).
    """
    if self.batch_norm is None:
      return None
    kwargs = self.batch_norm_kwargs()
    kwargs.update(name=name, **overrides)
    layer = keras.layers.BatchNormalization(**kwargs)
    if not self.batch_norm.train:
      layer.trainable = False
    return layer

  def build_activation(self, name=None):
    """keras layer applying the activation (Identity for NONE)."""
    if self.activation is None:
      return keras.layers.Identity(name=name)
    return keras.layers.Activation(self.activation, name=name)

  def conv_block(self, filters, kernel_size, name=None, **conv_overrides):
    """ConvNormAct: Conv2D (padding "same") -> batch norm (if configured) -> activation."""
    return ConvNormAct(self, filters, kernel_size, name=name, **conv_overrides)

  def dense_block(self, units, name=None, **dense_overrides):
    """DenseNormAct: Dense -> batch norm (if configured) -> activation."""
    return DenseNormAct(self, units, name=name, **dense_overrides)


class ConvNormAct(keras.layers.Layer):
  """Conv2D + optional batch norm + activation, configured by a LayerHyperparams.

  call(inputs [B, H, W, C] float32, training) -> [B, H', W', filters] float32.
  """

  def __init__(self, hyperparams, filters, kernel_size, name=None, **conv_overrides):
    super().__init__(name=name)
    conv_overrides.setdefault("padding", "same")
    self.conv = keras.layers.Conv2D(filters, kernel_size, name="conv",
                                    **hyperparams.conv_kwargs(**conv_overrides))
    self.norm = hyperparams.build_normalization(name="batchnorm")
    self.act = hyperparams.build_activation(name="activation")

  def call(self, inputs, training=False):
    x = self.conv(inputs)
    if self.norm is not None:
      x = self.norm(x, training=training)
    return self.act(x)


class DenseNormAct(keras.layers.Layer):
  """Dense + optional batch norm + activation. call(inputs [..., C], training) -> [..., units]."""

  def __init__(self, hyperparams, units, name=None, **dense_overrides):
    super().__init__(name=name)
    self.dense = keras.layers.Dense(units, name="dense",
                                    **hyperparams.dense_kwargs(**dense_overrides))
    self.norm = hyperparams.build_normalization(name="batchnorm")
    self.act = hyperparams.build_activation(name="activation")

  def call(self, inputs, training=False):
    x = self.dense(inputs)
    if self.norm is not None:
      x = self.norm(x, training=training)
    return self.act(x)


def _build_initializer(message, field_path):
  kind = message.WhichOneof("initializer_oneof")
  if kind == "truncated_normal_initializer":
    m = message.truncated_normal_initializer
    return InitializerSpec("TruncatedNormal", (("mean", m.mean), ("stddev", m.stddev)))
  if kind == "random_normal_initializer":
    m = message.random_normal_initializer
    return InitializerSpec("RandomNormal", (("mean", m.mean), ("stddev", m.stddev)))
  if kind == "variance_scaling_initializer":
    m = message.variance_scaling_initializer
    mode = {0: "fan_in", 1: "fan_out", 2: "fan_avg"}[m.mode]
    # slim's non-uniform variance scaling is a truncated normal; Keras rescales its stddev for the
    # truncation (1 / 0.8796^2 = 1.29, slim used 1.3): same distribution to 1%.
    distribution = "uniform" if m.uniform else "truncated_normal"
    return InitializerSpec("VarianceScaling", (("scale", m.factor), ("mode", mode),
                                               ("distribution", distribution)))
  if kind == "keras_initializer_by_name":
    name = message.keras_initializer_by_name
    try:
      keras.initializers.get(name)
    except ValueError as e:
      raise ConfigError(f"{field_path}.keras_initializer_by_name: unknown Keras initializer "
                        f"(got {name!r}; expected a keras.initializers name such as "
                        f"'glorot_uniform', 'he_normal')") from e
    return InitializerSpec(name)
  raise ConfigError(f"{field_path}: no initializer set (got nothing; expected one of: "
                    "truncated_normal_initializer, variance_scaling_initializer, "
                    "random_normal_initializer, keras_initializer_by_name)")


def _build_regularizer(message):
  kind = message.WhichOneof("regularizer_oneof")
  if kind == "l1_regularizer":
    return RegularizerSpec("l1", float(message.l1_regularizer.weight))
  if kind == "l2_regularizer":
    # slim's l2_regularizer(w) is w * sum(x^2) / 2; Keras L2(f) is f * sum(x^2).
    return RegularizerSpec("l2", float(message.l2_regularizer.weight) * 0.5)
  return None


def _build_batch_norm(message, synchronized):
  return BatchNormParams(momentum=message.decay, epsilon=message.epsilon, center=message.center,
                         scale=message.scale, train=message.train, synchronized=synchronized)


def build(message, field_path="hyperparams"):
  """Hyperparams message -> LayerHyperparams.

  Args:
    message: object_detection.protos.Hyperparams.
    field_path: where the message sits in the config, for errors.
  Returns:
    LayerHyperparams.
  Raises:
    ConfigError: wrong message type, no initializer, an unknown Keras initializer name, or
      group_norm (not supported by Keras layers here).
  """
  got = getattr(getattr(message, "DESCRIPTOR", None), "full_name", type(message).__name__)
  if got != _HYPERPARAMS:
    raise ConfigError(f"{field_path}: wrong message type (got {got}; expected {_HYPERPARAMS})")
  normalizer = message.WhichOneof("normalizer_oneof")
  batch_norm = None
  if normalizer == "batch_norm":
    batch_norm = _build_batch_norm(message.batch_norm, synchronized=False)
  elif normalizer == "sync_batch_norm":
    batch_norm = _build_batch_norm(message.sync_batch_norm, synchronized=True)
  elif normalizer == "group_norm":
    raise ConfigError(f"{field_path}.group_norm: group normalization is not supported for Keras "
                      "layers (got group_norm; expected batch_norm, sync_batch_norm or none)")
  if batch_norm is not None and not 0.0 <= batch_norm.momentum <= 1.0:
    raise ConfigError(f"{field_path}.{normalizer}.decay: out of range (got {batch_norm.momentum}; "
                      "expected 0 to 1)")
  return LayerHyperparams(
      initializer=_build_initializer(message.initializer, f"{field_path}.initializer"),
      regularizer=_build_regularizer(message.regularizer),
      activation=_ACTIVATIONS[message.activation],
      batch_norm=batch_norm,
      op="fc" if message.op == 2 else "conv",
      regularize_depthwise=message.regularize_depthwise,
      force_use_bias=message.force_use_bias)
