"""CenterNet resnet_v2_50/101, mobilenet_v2, mobilenet_v2_fpn(_sep_conv): outputs at stride 4,
the original's preprocessing and detection settings, checkpoint layout, and whole-model parameter
counts equal to the original's (measured with the reference harness)."""

import logging
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from object_detection.builders import model_builder
from object_detection.config import deviations
from object_detection.config import loader
from object_detection.core.registries import CENTER_NET_FEATURE_EXTRACTORS
from object_detection.models import center_net_extractors as ex
from object_detection.models import center_net_mobilenet_v2 as mnv2
from object_detection.models import center_net_resnet_v2  # noqa: F401  (registers)

REPO = pathlib.Path(__file__).resolve().parents[2]
SMALL = ["model.center_net.image_resizer.keep_aspect_ratio_resizer.min_dimension=128",
         "model.center_net.image_resizer.keep_aspect_ratio_resizer.max_dimension=128"]

# The original (TF OD API 2.8.0 under the reference harness) built from each config at 128x128
# and counted by ../shared/reference/harness/ref_params.py, run through
# benchmarks/reference/ref_params_no_download.py (keras MobileNetV2 with weights=None):
# (trainable, all variables). The variants are the shipped configs with the overrides of CASES.
ORIGINAL_COUNTS = {
    "resnet_v2_50": (29_850_718, 29_897_950),
    "resnet_v2_101": (48_860_254, 48_959_710),
    "mobilenet_v2": (3_445_150, 3_481_054),
    "mobilenet_v2_dm0.75": (2_417_342, 2_445_134),
    "mobilenet_v2_fpn": (2_386_446, 2_420_718),
    "mobilenet_v2_fpn_dm0.5": (702_862, 720_286),
    "mobilenet_v2_fpn_sep_conv": (2_360_390, 2_394_662),
    "deepmac_mobilenet_v2_fpn": (8_087_535, 8_130_767),
    # The original ignores use_depthwise in DeepMAC models (measured: the same counts with it);
    # here the center, scale and offset heads' 3x3 convs (24 -> 256) become separable: 3 x
    # (3*3*24*256 + 256 - (3*3*24 + 24*256 + 256)) = 3 x 48,936 fewer (docs/DEVIATIONS.md).
    "deepmac_mobilenet_v2_fpn_use_depthwise": (8_087_535 - 3 * 48_936, 8_130_767 - 3 * 48_936),
}


def _count(variables):
  return sum(int(np.prod(v.shape)) for v in variables)


def _extractor(name, **params):
  return CENTER_NET_FEATURE_EXTRACTORS.get(name)(ex.FeatureExtractorParams(type=name, **params),
                                                 False)


CHANNELS = {"mobilenet_v2": 64, "mobilenet_v2_fpn": 24, "mobilenet_v2_fpn_sep_conv": 24,
            "resnet_v2_50": 64}


@pytest.fixture(scope="module")
def extractors():
  """Each registered extractor once (building keras.applications models is the slow part)."""
  return {name: _extractor(name, channel_means=(10.0, 20.0, 30.0), channel_stds=(2.0, 2.0, 2.0))
          for name in CHANNELS}


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_stride_4_output_and_preprocessing(name, extractors):
  fe, channels = extractors[name], CHANNELS[name]
  outputs = fe(tf.zeros([2, 64, 96, 3]), training=True)
  assert [o.shape for o in outputs] == [(2, 16, 24, channels)]
  assert fe.num_feature_outputs == 1 and fe.out_stride == 4
  assert fe.restore_map("classification") == {"feature_extractor": fe.classification_backbone}
  # (x - mean) / std, then Keras' preprocess_input "tf" mode: / 127.5 - 1.
  images = tf.constant([[[[10.0, 275.0, 30.0]]]])
  np.testing.assert_allclose(fe.preprocess(images).numpy()[0, 0, 0],
                             [0.0 / 127.5 - 1.0, 127.5 / 127.5 - 1.0, -1.0], atol=1e-6)
  np.testing.assert_allclose(fe.preprocess_reverse(fe.preprocess(images)).numpy(),
                             images.numpy(), rtol=1e-5)


def test_make_divisible():
  assert [mnv2.make_divisible(v) for v in (1280 * 0.5, 1280 * 0.75, 1280 * 0.35, 11.2, 3.0)] == [
      640, 960, 448, 16, 8]


def test_mobilenet_v2_detection_settings():
  base = mnv2.detection_mobilenet_v2(depth_multiplier=0.5)
  assert base.get_layer("Conv_1").filters == 640  # Keras keeps 1280 below alpha 1
  assert base.output_shape[-1] == 640
  norms = [l for l in base.layers if isinstance(l, tf.keras.layers.BatchNormalization)]
  assert norms and all(l.momentum == pytest.approx(0.9997) and l.epsilon == pytest.approx(1e-3)
                       for l in norms)
  conv = base.get_layer("Conv1")
  assert conv.padding == "same" and conv.kernel_regularizer.l2 == pytest.approx(2e-5)
  assert base.get_layer("expanded_conv_depthwise").depthwise_regularizer.l2 == pytest.approx(
      2e-5)
  base(tf.zeros([1, 32, 32, 3]))
  # One L2 loss per conv / depthwise kernel: the original's regularization loss.
  num_kernels = sum(isinstance(l, (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D))
                    for l in base.layers)
  assert len(base.losses) == num_kernels == 52
  assert float(tf.add_n(base.losses)) > 0


def test_fpn_options(extractors):
  plain = extractors["mobilenet_v2_fpn"]
  by_name = extractors["mobilenet_v2_fpn_sep_conv"]  # separable without the field
  separable = _extractor("mobilenet_v2_fpn", use_separable_conv=True,
                         upsampling_interpolation="bilinear")
  assert all(type(c).__name__ == "Conv2D" for c in plain.merge_convs)
  for fe in (separable, by_name):
    assert all(type(c).__name__ == "SeparableConv2D" for c in fe.merge_convs)
  assert plain.upsample.interpolation == "nearest"
  assert separable.upsample.interpolation == "bilinear"
  with pytest.raises(ValueError, match="upsampling_interpolation"):
    _extractor("mobilenet_v2_fpn", upsampling_interpolation="cubic")


def test_checkpoint_layout(tmp_path, extractors):
  """One nested keras.applications model and the head's lists, as the converter expects."""
  layouts = {
      "mobilenet_v2": {"_base_model", "reduce_convs", "reduce_norms", "upsample_convs",
                       "upsample_norms"},
      "mobilenet_v2_fpn": {"_base_model", "top_conv", "residual_convs", "merge_convs",
                           "merge_norms"},
      "resnet_v2_50": {"_base_model", "reduce_convs", "reduce_norms", "upsample_convs",
                       "upsample_norms"},
  }
  for name, expected in layouts.items():
    fe = extractors[name]
    fe(tf.zeros([1, 32, 32, 3]))
    path = tf.train.Checkpoint(feature_extractor=fe).write(str(tmp_path / name))
    keys = [k for k, _ in tf.train.list_variables(path) if k.startswith("feature_extractor/")]
    assert {k.split("/")[1] for k in keys} == expected, name
    # Every variable is saved once (the level sub-models share the base model's layers).
    assert len(keys) == len(fe.variables), name


def test_sep_conv_type_without_the_field_warns():
  shipped = REPO / "configs" / "tf2" / "centernet_mobilenetv2fpn_512x512_coco17_od.config"
  # The shipped config sets the field (the original builds separable convs from it too).
  assert "D9" not in deviations.warn_about(loader.load_pipeline_config(str(shipped)))
  bare = loader.load_pipeline_config(
      str(shipped), overrides=["model.center_net.feature_extractor.use_separable_conv=false"])
  bare.model.center_net.feature_extractor.ClearField("use_separable_conv")
  assert "D9" in deviations.warn_about(bare)  # test_fpn_options: separable by the type alone


# case -> (shipped config, overrides); counts in ORIGINAL_COUNTS.
CASES = {
    "resnet_v2_50": ("centernet_resnet50_v2_512x512_coco17_tpu-8", []),
    "resnet_v2_101": ("centernet_resnet101_v2_512x512_coco17_tpu-8", []),
    "mobilenet_v2": ("centernet_mobilenetv2_512x512_coco17_od", []),
    "mobilenet_v2_dm0.75": ("centernet_mobilenetv2_512x512_coco17_od",
                            ["model.center_net.feature_extractor.depth_multiplier=0.75"]),
    "mobilenet_v2_fpn_sep_conv": ("centernet_mobilenetv2fpn_512x512_coco17_od", []),
    "mobilenet_v2_fpn": ("centernet_mobilenetv2fpn_512x512_coco17_od",
                         ["model.center_net.feature_extractor.type=mobilenet_v2_fpn",
                          "model.center_net.feature_extractor.use_separable_conv=false"]),
    "mobilenet_v2_fpn_dm0.5": ("centernet_mobilenetv2fpn_512x512_coco17_od",
                               ["model.center_net.feature_extractor.type=mobilenet_v2_fpn",
                                "model.center_net.feature_extractor.use_separable_conv=false",
                                "model.center_net.feature_extractor.depth_multiplier=0.5"]),
    "deepmac_mobilenet_v2_fpn": ("center_net_deepmac_mobilenetv2fpn_512x512_coco_tpu-8", []),
    "deepmac_mobilenet_v2_fpn_use_depthwise": (
        "center_net_deepmac_mobilenetv2fpn_512x512_coco_tpu-8", ["model.center_net.use_depthwise=true"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_parameter_counts_equal_the_originals(case):
  name, overrides = CASES[case]
  pipeline = loader.load_pipeline_config(str(REPO / "configs" / "tf2" / f"{name}.config"),
                                         overrides=SMALL + overrides)
  model = model_builder.build(pipeline.model, is_training=False)
  images, shapes = model.preprocess(tf.random.uniform([1, 128, 128, 3], 0, 255))
  model.postprocess(model.predict(images, shapes), shapes)
  counts = (_count(model.trainable_variables), _count(model.variables))
  print(f"{case}: {counts[0]:,} trainable, {counts[1]:,} variables")
  assert counts == ORIGINAL_COUNTS[case]
