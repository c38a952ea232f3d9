"""post_processing_builder: NMS params, score converters, calibration, error messages."""

import math

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import post_processing_builder
from object_detection.core.errors import ConfigError
from object_detection.protos import post_processing_pb2

# The Mask R-CNN reference config's second_stage_post_processing.
REFERENCE = """
  batch_non_max_suppression {
    score_threshold: 0.0
    iou_threshold: 0.6
    max_detections_per_class: 100
    max_total_detections: 100
  }
  score_converter: SOFTMAX
"""


def _parse(text):
  return text_format.Parse(text, post_processing_pb2.PostProcessing())


def test_reference_config_nms_params():
  nms, _ = post_processing_builder.build(_parse(REFERENCE))
  assert nms.score_threshold == 0.0
  assert nms.iou_threshold == pytest.approx(0.6)
  assert (nms.max_detections_per_class, nms.max_total_detections) == (100, 100)
  assert not nms.use_class_agnostic_nms and nms.change_coordinate_frame
  assert nms.nms_kwargs() == dict(score_threshold=0.0, iou_threshold=pytest.approx(0.6),
                                  max_size_per_class=100, max_total_size=100,
                                  class_agnostic=False)


def test_defaults_match_the_proto():
  nms, convert = post_processing_builder.build(_parse("batch_non_max_suppression {}"))
  assert nms == post_processing_builder.NmsParams(iou_threshold=pytest.approx(0.6))
  logits = tf.constant([[1.0, -2.0]])
  np.testing.assert_allclose(convert(logits).numpy(), [[1.0, -2.0]])


@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_softmax_with_logit_scale(mode):
  _, convert = post_processing_builder.build(_parse(REFERENCE + "logit_scale: 2.0"))
  logits = tf.constant([[2.0 * math.log(3.0), 0.0]])
  fn = convert if mode == "eager" else tf.function(convert)
  # log(3), 0 after the scale -> softmax 3/4, 1/4.
  np.testing.assert_allclose(fn(logits).numpy(), [[0.75, 0.25]], rtol=1e-6)


def test_sigmoid_converter():
  _, convert = post_processing_builder.build(_parse("score_converter: SIGMOID"))
  np.testing.assert_allclose(convert(tf.constant([0.0, math.log(3.0)])).numpy(), [0.5, 0.75],
                             rtol=1e-6)


def test_temperature_scaling_multiplies_logit_scale():
  text = ("score_converter: SIGMOID logit_scale: 2.0 "
          "calibration_config { temperature_scaling_calibration { scaler: 1.5 } }")
  _, convert = post_processing_builder.build(_parse(text))
  # Logits / (2 * 1.5): 3 * ln3 -> ln3 -> sigmoid 0.75.
  np.testing.assert_allclose(convert(tf.constant([3.0 * math.log(3.0)])).numpy(), [0.75],
                             rtol=1e-6)


def test_sigmoid_calibration_after_conversion():
  text = ("calibration_config { sigmoid_calibration { sigmoid_parameters { a: -2.0 b: 0.0 } } }")
  _, convert = post_processing_builder.build(_parse(text))
  # Identity converter, then 1 / (1 + exp(-2 x)): x = ln3 / 2 -> 1 / (1 + 1/3) = 0.75.
  np.testing.assert_allclose(convert(tf.constant([math.log(3.0) / 2.0, 0.0])).numpy(),
                             [0.75, 0.5], rtol=1e-6)


@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_piecewise_linear_calibration(mode):
  text = """calibration_config { function_approximation { x_y_pairs {
      x_y_pair { x: 0.5 y: 0.9 } x_y_pair { x: 0.0 y: 0.1 } x_y_pair { x: 1.0 y: 1.0 } } } }"""
  _, convert = post_processing_builder.build(_parse(text))
  fn = convert if mode == "eager" else tf.function(convert)
  scores = tf.constant([[-1.0, 0.0, 0.25, 0.75], [1.0, 2.0, 0.5, 0.125]])
  # Points (0, .1), (.5, .9), (1, 1); constant outside.
  expected = [[0.1, 0.1, 0.5, 0.95], [1.0, 1.0, 0.9, 0.3]]
  np.testing.assert_allclose(fn(scores).numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("text, message", [
    ("batch_non_max_suppression { iou_threshold: 1.5 }",
     r"^post_processing\.batch_non_max_suppression\.iou_threshold: out of range \(got 1.5; "
     r"expected 0 to 1\)"),
    ("batch_non_max_suppression { max_detections_per_class: 200 }",
     r"max_detections_per_class: larger than max_total_detections \(got 200; expected <= 100\)"),
    ("batch_non_max_suppression { soft_nms_sigma: -1 }", r"soft_nms_sigma: must be non-negative"),
    ("batch_non_max_suppression { use_combined_nms: true use_class_agnostic_nms: true }",
     r"use_combined_nms: combined NMS has no class-agnostic mode"),
    ("logit_scale: 0", r"^post_processing\.logit_scale: must be positive \(got 0.0"),
    ("calibration_config { function_approximation { x_y_pairs { x_y_pair { x: 0 y: 1 } } } }",
     r"function_approximation\.x_y_pairs: too few points \(got 1; expected at least 2\)"),
])
def test_errors(text, message):
  with pytest.raises(ConfigError, match=message):
    post_processing_builder.build(_parse(text))


@pytest.mark.parametrize("name, max_total", [
    ("faster_rcnn_resnet50_v1_640x640_coco17_tpu-8.config", 300),
    ("mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8.config", 100)])
def test_reference_config_post_processing(name, max_total, shared_dir):
  from object_detection.protos import pipeline_pb2  # pylint: disable=import-outside-toplevel
  config = text_format.Parse((shared_dir / "reference_configs" / name).read_text(),
                             pipeline_pb2.TrainEvalPipelineConfig())
  nms, convert = post_processing_builder.build(
      config.model.faster_rcnn.second_stage_post_processing)
  assert (nms.max_detections_per_class, nms.max_total_detections) == (100, max_total)
  np.testing.assert_allclose(convert(tf.math.log([[1.0, 3.0]])).numpy(), [[0.25, 0.75]],
                             rtol=1e-6)


def test_per_class_calibrations_keyed_by_score_column():
  sigmoid = """calibration_config { class_id_sigmoid_calibrations {
      class_id_sigmoid_parameters_map { key: 1 value { a: -2.0 b: 0.0 } } } }"""
  _, convert = post_processing_builder.build(_parse(sigmoid))
  scores = tf.constant([[0.3, math.log(3.0) / 2.0, 0.7]])
  # Column 1: 1 / (1 + exp(-2 x)) = 0.75; columns 0 and 2 have no parameters: unchanged.
  np.testing.assert_allclose(convert(scores).numpy(), [[0.3, 0.75, 0.7]], rtol=1e-6)
  linear = """calibration_config { class_id_function_approximations {
      class_id_xy_pairs_map { key: 2 value { x_y_pair { x: 0 y: 0 } x_y_pair { x: 1 y: 0.5 } } }
  } }"""
  _, convert = post_processing_builder.build(_parse(linear))
  np.testing.assert_allclose(tf.function(convert)(scores).numpy(),
                             [[0.3, math.log(3.0) / 2.0, 0.35]], rtol=1e-6)
