"""Every DeepMAC network_type: builds, runs forward/backward tiny, parameter counts (FEATURES §2)."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import registries
from object_detection.core.errors import ConfigError
from object_detection.meta_architectures.deepmac import mask_networks

ALL_TYPES = ["hourglass10", "hourglass20", "hourglass32", "hourglass52", "hourglass100",
             "hourglass20_uniform_size", "hourglass20_no_shortcut", "resnet4", "resnet8",
             "resnet12", "resnet16", "resnet20", "fully_connected", "embedding_projection",
             "cond_inst1", "cond_inst2", "cond_inst3"]

# C_in 50 (pixel 16 + xy 2 + dim 32), nc 64, mask 32, incl. project_out. FEATURES.md §2 gives
# 1.61/5.53/10.44/23.46/47.22/5.51/4.64 M (hourglass), 0.53/1.12/1.71/2.30/3.55 M (resnet),
# ≈68.2 M (fully_connected, fixed).
EXPECTED_PARAMS = {
    "hourglass10": 1_605_249, "hourglass20": 5_530_625, "hourglass32": 10_440_065,
    "hourglass52": 23_454_593, "hourglass100": 47_221_121,
    "hourglass20_uniform_size": 5_513_985, "hourglass20_no_shortcut": 4_644_353,
    "resnet4": 529_217, "resnet8": 1_120_577, "resnet12": 1_711_937, "resnet16": 2_303_297,
    "resnet20": 3_546_817, "fully_connected": 68_162_752,
}
FEATURES_MILLIONS = {
    "hourglass10": 1.61, "hourglass20": 5.53, "hourglass32": 10.44, "hourglass52": 23.46,
    "hourglass100": 47.22, "hourglass20_uniform_size": 5.51, "hourglass20_no_shortcut": 4.64,
    "resnet4": 0.53, "resnet8": 1.12, "resnet12": 1.71, "resnet16": 2.30, "resnet20": 3.55,
    "fully_connected": 68.2,
}


def _tiny_head(network_type):
  """The smallest valid head for the type (pixel 4 + xy 2 channels, nc 4, mask 32) and its
  (instance dim, pixel input channels)."""
  dim, pixel_channels, num_init_channels = 8, 6, 4
  if network_type == "embedding_projection":
    dim = pixel_channels = 4
  elif network_type.startswith("cond_inst"):
    depth = int(network_type[-1])
    num_init_channels = 6 if depth == 1 else 4
    dim = mask_networks.cond_inst_num_weights(6, num_init_channels, depth)
  network = registries.DEEPMAC_MASK_NETWORKS.get(network_type)
  head = mask_networks.MaskHeadNetwork(network, num_init_channels, 32,
                                       use_instance_embedding=not network.param_free)
  return head, dim, pixel_channels


def test_registry_holds_every_type():
  assert set(ALL_TYPES) <= set(registries.DEEPMAC_MASK_NETWORKS.names())


PARAM_FREE = ["embedding_projection", "cond_inst1", "cond_inst2", "cond_inst3"]


@pytest.mark.parametrize("network_type", PARAM_FREE)
def test_param_free_forward_backward_tiny(network_type):
  head, dim, pixel_channels = _tiny_head(network_type)
  instance = tf.random.normal([2, dim], seed=1)
  pixels = tf.random.normal([2, 32, 32, pixel_channels], seed=2)
  with tf.GradientTape() as tape:
    tape.watch([instance, pixels])
    logits = head(instance, pixels, training=True)
    loss = tf.reduce_mean(tf.square(logits))
  assert logits.shape == (2, 32, 32)
  assert not head.trainable_weights
  grads = tape.gradient(loss, [instance, pixels])
  assert all(float(tf.reduce_sum(tf.abs(g))) > 0.0 for g in grads)


_HEAVY = ("hourglass52", "hourglass100")   # 20-50 s each on a loaded 2-core machine


@pytest.mark.parametrize("network_type", [
    pytest.param(t, marks=pytest.mark.slow) if t in _HEAVY else t
    for t in sorted(EXPECTED_PARAMS)])
def test_parameter_count_and_forward_backward(network_type):
  """One build per type (building dominates the cost): C_in 50, nc 64, mask 32, 1 instance."""
  head = mask_networks.MaskHeadNetwork(registries.DEEPMAC_MASK_NETWORKS.get(network_type),
                                       num_init_channels=64, mask_size=32)
  instance = tf.random.normal([1, 32], seed=1)
  pixels = tf.random.normal([1, 32, 32, 18], seed=2)
  with tf.GradientTape() as tape:
    logits = head(instance, pixels, training=True)
    loss = tf.reduce_mean(tf.square(logits))
  assert logits.shape == (1, 32, 32)
  assert np.all(np.isfinite(logits.numpy()))
  count = sum(int(np.prod(w.shape)) for w in head.trainable_weights)
  assert count == EXPECTED_PARAMS[network_type]
  millions = FEATURES_MILLIONS[network_type]
  assert abs(count / 1e6 - millions) / millions < 0.005
  grads = tape.gradient(loss, head.trainable_weights)
  assert all(g is not None for g in grads)


def test_embedding_projection_is_a_dot_product():
  head, _, _ = _tiny_head("embedding_projection")
  instance = tf.constant([[1.0, 2.0, 0.0, -1.0]])
  pixels = tf.ones([1, 32, 32, 4]) * tf.constant([0.5, 1.0, 3.0, 2.0])
  np.testing.assert_allclose(head(instance, pixels).numpy(), 0.5 + 2.0 - 2.0)


def test_cond_inst_hand_computed():
  # depth 2, 1 input channel, width 2: weights [w00, w01, b0, b1, v0, v1, c].
  weights = tf.constant([[1.0, -1.0, 0.0, 0.5, 2.0, 3.0, -1.0]])
  inputs = tf.constant([[[[2.0], [-2.0]]]])           # [1, 1, 2, 1]
  out = mask_networks.per_pixel_conditional_conv(inputs, weights, width=2, depth=2)
  # x=2: hidden relu([2, -2+0.5]) = [2, 0] -> 2·2 + 0 − 1 = 3. x=−2: relu([−2, 2.5]) -> 7.5 − 1.
  np.testing.assert_allclose(out.numpy()[0, 0, :, 0], [3.0, 6.5])


def test_unknown_network_type_lists_known_names():
  expected = r"network_type.*did you mean \"hourglass52\".*hourglass100, hourglass20"
  with pytest.raises(ConfigError, match=expected):
    registries.DEEPMAC_MASK_NETWORKS.get("hourglass53", field_path="network_type")
