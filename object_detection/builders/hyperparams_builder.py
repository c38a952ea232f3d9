"""Hyperparams message -> LayerHyperparams (core/layer_hyperparams.py), the adapter between
`hyperparams.proto` and the layers; nothing else reads the message.

  hp = hyperparams_builder.build(config.conv_hyperparams, field_path="...conv_hyperparams")
  conv = keras.layers.Conv2D(256, 3, padding="same", **hp.layer_kwargs())

Translation kept from the original:
- l2_regularizer.weight w -> keras.regularizers.L2(0.5 * w) (the slim L2 convention,
  w * sum(x^2) / 2); l1 -> L1(w).
- variance_scaling_initializer -> keras VarianceScaling(scale=factor, mode=fan_in/fan_out/fan_avg,
  distribution "uniform" or "truncated_normal").
- batch_norm.decay is the Keras momentum; sync_batch_norm gives a synchronized batch norm.
  `train: false` freezes the batch-norm layer, as the original's slim path does (its Keras path
  ignored `train`; no reference config sets it).
- `op` (CONV / FC) and `regularize_depthwise` are not kept: the Keras layers that read a message
  already know their kind, and no head here has depthwise convolutions.
"""

import keras

from object_detection.core.errors import ConfigError
from object_detection.core.layer_hyperparams import BatchNormParams
from object_detection.core.layer_hyperparams import InitializerSpec
from object_detection.core.layer_hyperparams import LayerHyperparams
from object_detection.core.layer_hyperparams import RegularizerSpec

_HYPERPARAMS = "object_detection.protos.Hyperparams"
_ACTIVATIONS = {0: None, 1: "relu", 2: "relu6", 3: "swish"}


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


def build(message, field_path="hyperparams", default=None):
  """Hyperparams message -> LayerHyperparams.

  Args:
    message: object_detection.protos.Hyperparams.
    field_path: where the message sits in the config, for errors.
    default: LayerHyperparams returned when the message is unset (no field set); None reads
      even an unset message (which then fails for want of an initializer).
  Returns:
    LayerHyperparams.
  Raises:
    ConfigError: wrong message type, no initializer, an unknown Keras initializer name, or
      group_norm (not supported by Keras layers here).
  """
  got = getattr(getattr(message, "DESCRIPTOR", None), "full_name", type(message).__name__)
  if got != _HYPERPARAMS:
    raise ConfigError(f"{field_path}: wrong message type (got {got}; expected {_HYPERPARAMS})")
  if default is not None and not message.ByteSize():
    return default
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
      force_use_bias=message.force_use_bias)
