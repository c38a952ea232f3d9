"""Every variable Keras sees is in the checkpoint object graph (what tf.train.Checkpoint saves and
what the converter fills), for every DeepMAC mask network, every Mask R-CNN mask head and the
FPN layers. Keras 3 keeps sublayers held in Python lists out of TensorFlow's object graph unless
the layer exposes them (core/tracking.CheckpointableCollections): such weights would silently
be neither saved, restored nor converted."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.conversion import object_graph
from object_detection.core import registries
from object_detection.meta_architectures.deepmac import mask_networks
from object_detection.meta_architectures.faster_rcnn import mask_heads
from object_detection.models.fpn import FeaturePyramid

registries.load_all()


def _assert_covered(layer):
  keras_count = len(layer.variables)
  in_graph = object_graph.variables_by_key({"layer": layer})
  assert keras_count > 0 and len(in_graph) == keras_count, (
      f"{type(layer).__name__}: {keras_count} variables, {len(in_graph)} in the checkpoint graph")
  assert {id(v) for v in in_graph.values()} == {id(v) for v in layer.variables}


# One network per layer class (deeper hourglasses and ResNets repeat the same classes; every
# registered type's full checkpoint layout is checked against the original's in
# test_manifests.py and benchmarks/reference/).
@pytest.mark.parametrize("network_type", ["hourglass10", "hourglass20_no_shortcut", "resnet20",
                                          "fully_connected"])
def test_deepmac_mask_network(network_type):
  head = mask_networks.MaskHeadNetwork(registries.DEEPMAC_MASK_NETWORKS.get(network_type),
                                       num_init_channels=4, mask_size=32)
  head(tf.zeros([1, 8]), tf.zeros([1, 32, 32, 10]))
  _assert_covered(head)


@pytest.mark.parametrize("name", ["default", "deep_default", "hourglass20"])
def test_mask_rcnn_mask_head(name):
  params = mask_heads.MaskHeadParams(num_classes=3, mask_height=8, mask_width=8,
                                     num_conv_layers=3, conv_depth=4)
  head = registries.MASK_RCNN_MASK_HEADS.get(name)(params)
  size = 8 if head.input_kind == "box_classifier_features" else 4
  head(tf.zeros([1, size, size, 6]))
  _assert_covered(head)


def test_feature_pyramid():
  fpn = FeaturePyramid(2, 6, 5, depth=4)
  fpn({level: tf.constant(np.zeros([1, 64 // 2 ** level, 64 // 2 ** level, 3], np.float32))
       for level in range(2, 6)})
  _assert_covered(fpn)
