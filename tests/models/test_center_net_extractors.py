"""CenterNet feature extractors: registry, normalisation, outputs, restore maps."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core.errors import ConfigError
from object_detection.core.registries import CENTER_NET_FEATURE_EXTRACTORS
from object_detection.models import center_net_extractors as ex
from object_detection.models import hourglass_network as hg


def test_registered_names():
  for name in ("hourglass_10", "hourglass_20", "hourglass_32", "hourglass_52", "hourglass_104",
               "resnet_v1_50_fpn", "resnet_v1_101_fpn"):
    assert name in CENTER_NET_FEATURE_EXTRACTORS
  with pytest.raises(ConfigError, match='did you mean "hourglass_104"'):
    CENTER_NET_FEATURE_EXTRACTORS.get("hourglass104", field_path="model.center_net.x")


def test_preprocess_bgr_and_normalisation_roundtrip():
  fe = ex.HourglassFeatureExtractor(hg.hourglass_10(2), channel_means=(10.0, 20.0, 30.0),
                                    channel_stds=(2.0, 4.0, 5.0), bgr_ordering=True)
  images = tf.constant([[[[100.0, 50.0, 0.0]]]])  # RGB
  out = fe.preprocess(images).numpy()
  # BGR = (0, 50, 100) -> ((0-10)/2, (50-20)/4, (100-30)/5)
  np.testing.assert_allclose(out[0, 0, 0], [-5.0, 7.5, 14.0])
  np.testing.assert_allclose(fe.preprocess_reverse(fe.preprocess(images)).numpy(),
                             images.numpy(), rtol=1e-6)


def test_registered_hourglass_10_outputs():
  fe = CENTER_NET_FEATURE_EXTRACTORS.get("hourglass_10")(ex.FeatureExtractorParams(), False)
  outputs = fe(tf.zeros([1, 32, 32, 3]))
  assert fe.out_stride == 4 and fe.num_feature_outputs == 1
  assert [o.shape for o in outputs] == [(1, 8, 8, 64)]  # nc = 32 -> 64 channels
  assert fe.restore_map("detection") == {"feature_extractor": fe}
  with pytest.raises(ValueError, match="no classification backbone"):
    fe.restore_map("classification")


@pytest.mark.slow
def test_resnet_v1_50_fpn_stride_4_and_classification_backbone():
  fe = CENTER_NET_FEATURE_EXTRACTORS.get("resnet_v1_50_fpn")(ex.FeatureExtractorParams(), True)
  outputs = fe(tf.zeros([1, 64, 64, 3]), training=True)
  assert [o.shape for o in outputs] == [(1, 16, 16, 64)]
  backbone = fe.restore_map("classification")["feature_extractor"]
  assert backbone is fe.classification_backbone
  # keras.applications ResNet50 without top: 23.5 M parameters, random init (weights=None).
  assert 23.4e6 < backbone.count_params() < 23.7e6
