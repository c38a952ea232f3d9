"""Plain layer hyperparameters for the Faster R-CNN heads (what a `Hyperparams` proto means).

Builders translate `hyperparams.proto` messages into `LayerParams`; heads never read protos.
"""

import copy
import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class LayerParams:
  """Initializer, regularizer, activation and optional batch norm of conv / dense layers.

  Attributes:
    kernel_initializer: anything `keras.initializers.get` accepts (a fresh instance is made
      per layer).
    kernel_regularizer: anything `keras.regularizers.get` accepts, or None.
    activation: anything `keras.activations.get` accepts, or None (linear).
    batch_norm: None, or kwargs of `keras.layers.BatchNormalization` (when set, convs have no
      bias, as the original's `use_bias = not batch_norm`).
  """
  kernel_initializer: object = "glorot_uniform"
  kernel_regularizer: object = None
  activation: object = "relu"
  batch_norm: dict = None

  def layer_kwargs(self, use_bias=None):
    """kwargs for Conv2D / Dense: initializer, regularizer, use_bias (no activation)."""
    init = copy.deepcopy(self.kernel_initializer)
    reg = copy.deepcopy(self.kernel_regularizer)
    return {
        "kernel_initializer": keras.initializers.get(init),
        "kernel_regularizer": keras.regularizers.get(reg) if reg is not None else None,
        "use_bias": (self.batch_norm is None) if use_bias is None else use_bias,
    }

  def make_batch_norm(self):
    """A BatchNormalization layer, or None."""
    if self.batch_norm is None:
      return None
    return keras.layers.BatchNormalization(**self.batch_norm)

  def make_activation(self):
    """An Activation layer, or None for linear."""
    if self.activation is None:
      return None
    return keras.layers.Activation(self.activation)


RPN_DEFAULT = LayerParams(
    kernel_initializer={"class_name": "TruncatedNormal", "config": {"stddev": 0.01}})
FC_DEFAULT = LayerParams(kernel_initializer="glorot_uniform", activation=None)
MASK_CONV_DEFAULT = LayerParams(
    kernel_initializer={"class_name": "TruncatedNormal", "config": {"stddev": 0.01}})
