"""RPN, box and mask heads: shapes, the automatic conv depth, deep heads, the registry."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import registries
from object_detection.core.errors import ConfigError
from object_detection.meta_architectures.faster_rcnn import box_head
from object_detection.meta_architectures.faster_rcnn import mask_heads
from object_detection.meta_architectures.faster_rcnn import rpn


def test_rpn_head_concatenates_levels():
  head = rpn.RPNHead(3, depth=4)
  boxes, logits = head([tf.zeros([2, 4, 4, 5]), tf.zeros([2, 2, 2, 5])])
  assert boxes.shape == (2, (16 + 4) * 3, 4)
  assert logits.shape == (2, (16 + 4) * 3, 2)


@pytest.mark.parametrize("share,q", [(True, 1), (False, 5)])
def test_box_head(share, q):
  boxes, logits = box_head.BoxHead(5, share_box_across_classes=share)(tf.zeros([7, 3, 3, 6]))
  assert boxes.shape == (7, q, 4)
  assert logits.shape == (7, 6)


def test_auto_conv_depth_matches_the_original_rule():
  # IRv2 box classifier (1536 ch), 90 classes: (2*10.58 + 3*6.49)/5 = 8.13 -> 256.
  assert mask_heads.auto_conv_depth(1536, 90) == 256
  assert mask_heads.auto_conv_depth(16, 2) == 4   # (2*4 + 3*1) / 5 = 2.2 -> 2^2


def test_default_mask_head_shapes_and_params():
  params = mask_heads.MaskHeadParams(num_classes=4, mask_height=6, mask_width=6,
                                     num_conv_layers=3, conv_depth=0)
  head = mask_heads.MaskRCNNMaskHead(params)
  out = head(tf.zeros([2, 3, 3, 16]))
  assert out.shape == (2, 6, 6, 4)
  depth = mask_heads.auto_conv_depth(16, 4)
  expected = (16 * 9 * depth + depth) + (depth * 9 * depth + depth) + (depth * 9 * 4 + 4)
  assert head.count_params() == expected


def test_convolve_then_upsample_and_class_agnostic():
  params = mask_heads.MaskHeadParams(num_classes=4, mask_height=6, mask_width=6,
                                     num_conv_layers=2, conv_depth=4, class_agnostic=True,
                                     convolve_then_upsample=True)
  out = mask_heads.MaskRCNNMaskHead(params)(tf.zeros([2, 3, 3, 8]))
  assert out.shape == (2, 6, 6, 1)
  with pytest.raises(ValueError, match="multiple"):
    mask_heads.MaskRCNNMaskHead(params)(tf.zeros([2, 4, 4, 8]))


def test_deep_heads_registered_and_run():
  assert {"default", "deep_default", "hourglass20", "hourglass52", "hourglass100"} <= set(
      registries.MASK_RCNN_MASK_HEADS.names())
  params = mask_heads.MaskHeadParams(num_classes=3, mask_height=8, mask_width=8,
                                     num_conv_layers=2, conv_depth=4, class_agnostic=True)
  for name in ("deep_default", "hourglass20"):
    head = registries.MASK_RCNN_MASK_HEADS.get(name)(params)
    assert head.input_kind == "roi_features" and head.roi_crop_size == 4
    out = head(tf.zeros([2, 4, 4, 5]), training=True)
    assert out.shape == (2, 8, 8, 1)
    assert np.all(np.isfinite(out.numpy()))
  with pytest.raises(ConfigError, match="did you mean"):
    registries.MASK_RCNN_MASK_HEADS.get("hourglass_52", field_path="x.mask_head_network_type")


def test_deep_head_rejects_bad_sizes():
  params = mask_heads.MaskHeadParams(num_classes=3, mask_height=9, mask_width=9)
  with pytest.raises(ValueError, match="divisible"):
    registries.MASK_RCNN_MASK_HEADS.get("deep_default")(params)
