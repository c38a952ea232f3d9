"""Hourglass networks: shapes, structure and the original's parameter counts.

Counts (FEATURES §2, DeepMAC mask heads: C_in = 50, nc = 64, plus a 1x1 project_out of 129
parameters): hourglass10 1.61 M, hourglass20 5.53 M, hourglass20_uniform_size 5.51 M,
hourglass20_no_shortcut 4.64 M (hourglass52/100 are counted by the DeepMAC tests). hourglass_104
(187.7 M) is counted once in tests/builders/test_center_net_builder.py.
"""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.models import hourglass_network as hg

PROJECT_OUT = 64 * 2 + 1


def _trainable(layer):
  return sum(int(np.prod(v.shape)) for v in layer.trainable_weights)


@pytest.mark.parametrize("name,expected_m", [
    ("hourglass_10", 1.61), ("hourglass_20", 5.53), ("hourglass_20_uniform_size", 5.51),
    ("hourglass_20_no_shortcut", 4.64)])
def test_deepmac_head_parameter_counts(name, expected_m):
  factory = getattr(hg, name)
  net = factory(64) if "_20_" in name else factory(64, initial_downsample=False)
  outputs = net(tf.zeros([1, 8, 8, 50]))
  assert len(outputs) == 1 and outputs[0].shape == (1, 8, 8, 128)
  count = (_trainable(net) + PROJECT_OUT) / 1e6
  assert abs(count - expected_m) <= 0.006 * expected_m, count


def test_stride_4_outputs_and_two_stacks():
  net = hg.HourglassNetwork(num_stages=2, blocks_per_stage=[1, 1, 1], channel_dims=[8, 8, 12],
                            input_channel_dims=4, num_hourglasses=2)
  outputs = net(tf.zeros([2, 32, 16, 3]), training=True)
  assert [o.shape for o in outputs] == [(2, 8, 4, 8)] * 2
  assert net.out_stride == 4 and net.num_feature_outputs == 2
  # Intermediate 1x1 blocks exist only between stacks.
  assert len(net.intermediate_conv1) == 1 and len(net.intermediate_residual) == 1


def test_batch_norm_is_synchronized_with_original_momentum():
  bn = hg.batchnorm()
  assert bn.synchronized and bn.momentum == 0.1 and bn.epsilon == 1e-5


def test_training_flag_updates_moving_statistics_only_in_training():
  net = hg.hourglass_10(2)
  images = tf.random.uniform([2, 16, 16, 3])
  net(images, training=False)
  mean = net.downsample_input.conv_block.norm.moving_mean
  before = mean.numpy().copy()
  net(images, training=False)
  np.testing.assert_array_equal(mean.numpy(), before)
  net(images, training=True)
  assert not np.allclose(mean.numpy(), before)


def test_residual_block_skip_conv_when_stride_or_channels_change():
  blocks = hg.make_repeated_residual_blocks(8, 2, initial_stride=2, residual_channels=6)
  assert blocks[0].skip is not None and blocks[1].skip is not None  # stride 2; 6 -> 8 channels
  blocks = hg.make_repeated_residual_blocks(8, 2)
  assert blocks[0].skip is None and blocks[1].skip is None
  out = hg.ResidualBlock(8, skip_conv=True, stride=2)(tf.zeros([1, 8, 8, 3]))
  assert out.shape == (1, 4, 4, 8)


def test_graph_and_eager_agree():
  net = hg.hourglass_10(2)
  images = tf.random.uniform([1, 16, 16, 3])
  eager = net(images)[0]
  graph = tf.function(lambda x: net(x)[0])(images)
  np.testing.assert_allclose(eager.numpy(), graph.numpy(), rtol=1e-4, atol=1e-5)


def test_bad_lengths_raise():
  with pytest.raises(ValueError, match="num_stages \\+ 1 entries"):
    hg.HourglassNetwork(num_stages=2, blocks_per_stage=[1, 1], channel_dims=[4, 4, 4],
                        input_channel_dims=4)


def test_strided_1x1_block_equals_strided_conv_and_trains_in_graph_mode():
  # In training the block subsamples then applies a stride-1 1x1 conv (TF 2.21 oneDNN
  # workaround); at inference it runs one strided conv. Both are the same function as a 1x1
  # stride-2 conv with the same kernel, on odd and even sizes, eager and traced.
  block = hg.SkipConvolution(4, 2)
  traced = tf.function(lambda x: block(x, training=False))
  for size in (7, 8):
    x = tf.random.stateless_uniform([1, size, size, 3], seed=(0, size))
    inference = block(x, training=False)
    subsampled = block.norm(block.conv(x[:, ::2, ::2, :]), training=False)
    expected = block.norm(tf.nn.conv2d(x, block.conv.kernel, strides=2, padding="VALID"),
                          training=False)
    assert inference.shape == (1, (size + 1) // 2, (size + 1) // 2, 4)
    for got in (inference, traced(x), subsampled):
      np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)

  @tf.function
  def grads(x):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(block(x, training=True))
    return tape.gradient(loss, block.trainable_variables)

  assert all(np.isfinite(g.numpy()).all() for g in grads(tf.ones([1, 8, 8, 3])))
