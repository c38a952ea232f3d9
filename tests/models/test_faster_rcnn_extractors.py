"""Every registered Faster R-CNN feature extractor builds (random weights) and runs at 64x64;
ResNet-50's parameter count is the bias-free Keras ResNet's; Inception-ResNet-v2 has 'same'
padding (ceil(H / 16) proposal features, as the original's align_feature_maps)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import registries
from object_detection.models import faster_rcnn_extractors
from object_detection.models import faster_rcnn_resnet_v1
from object_detection.models.fpn import FeaturePyramid

NAMES = ["faster_rcnn_resnet50_keras", "faster_rcnn_resnet50_fpn_keras",
         "faster_rcnn_inception_resnet_v2_keras"]


def test_registry_lists_all_types():
  expected = {f"faster_rcnn_resnet{d}{fpn}_keras" for d in (50, 101, 152) for fpn in ("", "_fpn")}
  expected.add("faster_rcnn_inception_resnet_v2_keras")
  assert expected <= set(registries.FASTER_RCNN_FEATURE_EXTRACTORS.names())


@pytest.mark.parametrize("name", NAMES)
def test_extractor_runs(name):
  params = faster_rcnn_extractors.ExtractorParams(fpn_min_level=2, fpn_max_level=6,
                                                  fpn_additional_layer_depth=8)
  extractor = registries.FASTER_RCNN_FEATURE_EXTRACTORS.get(name)(params, True)
  size = 64
  images = extractor.preprocess(tf.fill([1, size, size, 3], 128.0))
  maps = extractor.extract_proposal_features(images, training=True)
  assert len(maps) == len(extractor.features_strides)
  if "fpn" in name:
    assert [m.shape[1] for m in maps] == [16, 8, 4, 2, 1]
    assert all(m.shape[-1] == 8 for m in maps)
    crops = tf.zeros([3, 4, 4, 8])
    assert extractor.extract_box_classifier_features(crops).shape == (3, 1, 1, 1024)
    assert len(extractor.features_to_crop(maps)) == 4          # P2..P5; P6 feeds the RPN only
  elif "inception" in name:
    assert maps[0].shape == (1, 4, 4, 1088)
    out = extractor.extract_box_classifier_features(tf.zeros([2, 17, 17, 1088]))
    assert out.shape == (2, 9, 9, 1536)
  else:
    assert maps[0].shape == (1, 4, 4, 1024)
    out = extractor.extract_box_classifier_features(tf.zeros([2, 7, 7, 1024]))
    assert out.shape == (2, 4, 4, 2048)
  if "fpn" not in name:
    assert extractor.features_to_crop(maps) == maps
  assert set(extractor.restore_map("classification")) == {"first_stage", "second_stage"}
  with pytest.raises(ValueError, match="unknown checkpoint type"):
    extractor.restore_map("bogus")


def test_resnet50_has_no_conv_biases():
  first, second = faster_rcnn_resnet_v1.resnet_v1_stages(50)
  count = sum(int(np.prod(v.shape)) for v in first.trainable_weights + second.trainable_weights)
  reference = keras.applications.ResNet50(include_top=False, weights=None)
  ref_trainable = sum(int(np.prod(v.shape)) for v in reference.trainable_weights)
  # keras.applications adds one bias per conv output channel = per BN channel: 26,560.
  assert ref_trainable - count == 26_560
  assert first.get_layer("conv4_block6_out").output.shape[-1] == 1024


def test_bad_stride_and_levels():
  with pytest.raises(ValueError, match="first_stage_features_stride"):
    faster_rcnn_extractors.ResNetExtractor(
        50, faster_rcnn_extractors.ExtractorParams(first_stage_features_stride=8), True)
  with pytest.raises(ValueError, match="invalid fpn levels"):
    faster_rcnn_extractors.ResNetFPNExtractor(
        50, faster_rcnn_extractors.ExtractorParams(fpn_min_level=1), True)


def test_fpn_top_down_by_hand():
  fpn = FeaturePyramid(min_level=2, max_level=4, backbone_max_level=3, depth=1)
  feats = {2: tf.ones([1, 4, 4, 1]), 3: tf.ones([1, 2, 2, 1])}
  out = fpn(feats)
  assert [o.shape[1] for o in out] == [4, 2, 1]
  # Identity-like weights: lateral = x, smoothing = centre tap only, coarse = centre tap.
  for layer in fpn.lateral:
    layer.set_weights([np.ones([1, 1, 1, 1], np.float32), np.zeros([1], np.float32)])
  centre = np.zeros([3, 3, 1, 1], np.float32)
  centre[1, 1] = 1
  for layer in fpn.smooth + fpn.coarse:
    layer.set_weights([centre, np.zeros([1], np.float32)])
  out = fpn(feats)
  np.testing.assert_allclose(out[1].numpy(), 1.0)          # level 3: its own lateral
  np.testing.assert_allclose(out[0].numpy(), 2.0)          # level 2: lateral + upsampled
  np.testing.assert_allclose(out[2].numpy(), 1.0)          # level 4: stride-2 conv of level 3
