"""Batch normalization on TensorFlow's fused kernel (FusedBatchNormV3).

`BatchNormalization` is `keras.layers.BatchNormalization` (same arguments, variables, checkpoint
keys and semantics: Keras momentum, biased batch variance for the moving statistics,
float32 statistics under mixed precision) whose channels-last path runs one fused kernel per
call and one for its gradient, instead of Keras' ~30 elementwise ops. On CPU that is ~8x faster
per layer (forward + backward) and 5x fewer graph ops, which also shortens tracing and graph
optimization before the first step; oneDNN can further fuse it with the preceding convolution
at inference.

Falls back to Keras' implementation for: inputs other than 4-D with channels last, masks,
batch renormalization, and synchronized statistics with more than one replica (Keras all-reduces
the moments there).
"""

import keras
import tensorflow as tf


class BatchNormalization(keras.layers.BatchNormalization):
  """keras.layers.BatchNormalization on FusedBatchNormV3 (see the module docstring)."""

  def _fusable(self, inputs, mask):
    if mask is not None or self.renorm or len(inputs.shape) != 4:
      return False
    if self.axis not in (-1, 3):
      return False
    if self.synchronized:
      replica = tf.distribute.get_replica_context()
      replicas = (replica.num_replicas_in_sync if replica is not None
                  else tf.distribute.get_strategy().num_replicas_in_sync)
      if replicas > 1:
        return False
    return True

  def call(self, inputs, training=None, mask=None):
    if not self._fusable(inputs, mask):
      return super().call(inputs, training=training, mask=mask)
    x = inputs
    if x.dtype not in (tf.float32, tf.bfloat16, tf.float16):
      x = tf.cast(x, tf.float32)
    channels = x.shape[-1]
    scale = self.gamma if self.scale else tf.ones([channels], tf.float32)
    offset = self.beta if self.center else tf.zeros([channels], tf.float32)
    scale = tf.convert_to_tensor(scale, tf.float32)
    offset = tf.convert_to_tensor(offset, tf.float32)
    if training and self.trainable:
      empty = tf.constant([], tf.float32)
      y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
          x=x, scale=scale, offset=offset, mean=empty, variance=empty, epsilon=self.epsilon,
          exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
      # The kernel returns the Bessel-corrected variance; Keras (and the original's
      # synchronized batch norm) average the biased one.
      n = tf.cast(tf.size(x, out_type=tf.int64) // channels, tf.float32)
      biased = variance * tf.maximum(n - 1.0, 0.0) / tf.maximum(n, 1.0)
      has_data = n > 0.0
      momentum = self.momentum
      old_mean = tf.convert_to_tensor(self.moving_mean, tf.float32)
      old_variance = tf.convert_to_tensor(self.moving_variance, tf.float32)
      self.moving_mean.assign(tf.where(
          has_data, old_mean * momentum + mean * (1.0 - momentum), old_mean))
      self.moving_variance.assign(tf.where(
          has_data, old_variance * momentum + biased * (1.0 - momentum), old_variance))
    else:
      y = tf.raw_ops.FusedBatchNormV3(
          x=x, scale=scale, offset=offset,
          mean=tf.convert_to_tensor(self.moving_mean, tf.float32),
          variance=tf.convert_to_tensor(self.moving_variance, tf.float32),
          epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
          is_training=False)[0]
    return tf.cast(y, self.compute_dtype)
