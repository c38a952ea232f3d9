"""losses_builder: proto -> bound pure loss functions, registry names and error messages."""

import math

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import losses_builder
from object_detection.core import registries
from object_detection.core.errors import ConfigError
from object_detection.losses import center_net, classification, localization
from object_detection.protos import losses_pb2


def _classification(text):
  return text_format.Parse(text, losses_pb2.ClassificationLoss())


def _localization(text):
  return text_format.Parse(text, losses_pb2.LocalizationLoss())


def test_every_oneof_name_is_registered():
  names = [f.name for f in losses_pb2.ClassificationLoss.DESCRIPTOR.oneofs_by_name[
      "classification_loss"].fields]
  names += [f.name for f in losses_pb2.LocalizationLoss.DESCRIPTOR.oneofs_by_name[
      "localization_loss"].fields]
  for name in names:
    assert name in registries.LOSSES, name


@pytest.mark.parametrize("text, func, keywords", [
    ("weighted_sigmoid {}", classification.weighted_sigmoid, {}),
    ("weighted_softmax { logit_scale: 2.0 }", classification.weighted_softmax,
     {"logit_scale": 2.0}),
    ("weighted_logits_softmax {}", classification.weighted_logits_softmax, {"logit_scale": 1.0}),
    ("bootstrapped_sigmoid { alpha: 0.25 hard_bootstrap: true }",
     classification.bootstrapped_sigmoid, {"alpha": 0.25, "hard_bootstrap": True}),
    ("weighted_sigmoid_focal { gamma: 1.5 alpha: 0.25 }", classification.sigmoid_focal,
     {"gamma": 1.5, "alpha": 0.25}),
    ("weighted_sigmoid_focal {}", classification.sigmoid_focal, {"gamma": 2.0, "alpha": None}),
    ("penalty_reduced_logistic_focal_loss { alpha: 2.0 beta: 4.0 }",
     center_net.penalty_reduced_logistic_focal_loss, {"alpha": 2.0, "beta": 4.0}),
    ("weighted_dice_classification_loss { squared_normalization: true }",
     classification.weighted_dice,
     {"squared_normalization": True, "is_prediction_probability": False}),
])
def test_build_classification_loss(text, func, keywords):
  loss = losses_builder.build_classification_loss(_classification(text))
  assert loss.func is func
  assert loss.keywords == keywords


@pytest.mark.parametrize("text, func, keywords", [
    ("weighted_l2 {}", localization.weighted_l2, {}),
    ("weighted_smooth_l1 { delta: 0.5 }", localization.weighted_smooth_l1, {"delta": 0.5}),
    ("weighted_smooth_l1 {}", localization.weighted_smooth_l1, {"delta": 1.0}),
    ("weighted_iou {}", localization.weighted_iou, {}),
    ("weighted_giou {}", localization.weighted_giou, {}),
    ("l1_localization_loss {}", center_net.l1, {}),
])
def test_build_localization_loss(text, func, keywords):
  loss = losses_builder.build_localization_loss(_localization(text))
  assert loss.func is func
  assert loss.keywords == keywords


def test_built_loss_computes_the_configured_function():
  loss = losses_builder.build_classification_loss(
      _classification("weighted_softmax { logit_scale: 1.0 }"))
  logits = tf.math.log(tf.constant([[[1.0, 2.0, 1.0]]]))
  value = tf.function(loss)(logits, tf.constant([[[0.0, 1.0, 0.0]]]), tf.ones([1, 1, 1]))
  np.testing.assert_allclose(value.numpy(), [[math.log(2.0)]], rtol=1e-5)
  l1 = losses_builder.build_localization_loss(_localization("l1_localization_loss {}"))
  np.testing.assert_allclose(l1(tf.constant([1.0, -2.0]), tf.zeros([2])).numpy(), [1.0, 2.0])


def test_empty_loss_error_lists_the_choices():
  with pytest.raises(ConfigError, match=r"^loss\.classification_loss: empty loss config \(got "
                     r"nothing; expected one of: weighted_sigmoid, .*weighted_dice"):
    losses_builder.build(text_format.Parse("localization_loss { weighted_l2 {} }",
                                           losses_pb2.Loss()))


def test_wrong_message_type():
  with pytest.raises(ConfigError, match=r"wrong message type \(got object_detection.protos."
                     r"LocalizationLoss; expected object_detection.protos.ClassificationLoss\)"):
    losses_builder.build_classification_loss(losses_pb2.LocalizationLoss())


@pytest.mark.parametrize("text, message", [
    ("weighted_softmax { logit_scale: 0.0 }",
     r"classification_loss\.weighted_softmax\.logit_scale: must be positive \(got 0.0"),
    ("bootstrapped_sigmoid { alpha: 1.5 }",
     r"classification_loss\.bootstrapped_sigmoid\.alpha: alpha out of range \(got 1.5; expected "
     r"0.0 to 1.0\)"),
    ("weighted_sigmoid_focal { alpha: -0.5 }", r"weighted_sigmoid_focal\.alpha: alpha out of"),
])
def test_bad_classification_parameters(text, message):
  with pytest.raises(ConfigError, match=message):
    losses_builder.build_classification_loss(_classification(text))


def test_bad_smooth_l1_delta():
  with pytest.raises(ConfigError, match=r"localization_loss\.weighted_smooth_l1\.delta: must be "
                     r"positive \(got -1.0; expected > 0\)"):
    losses_builder.build_localization_loss(_localization("weighted_smooth_l1 { delta: -1 }"))


def test_faster_rcnn_classification_loss_defaults_to_softmax():
  loss = losses_builder.build_faster_rcnn_classification_loss(losses_pb2.ClassificationLoss())
  assert loss.func is classification.weighted_softmax
  assert loss.keywords == {"logit_scale": 1.0}
  sigmoid = losses_builder.build_faster_rcnn_classification_loss(
      _classification("weighted_sigmoid {}"))
  assert sigmoid.func is classification.weighted_sigmoid


def test_faster_rcnn_classification_loss_rejects_unsupported():
  with pytest.raises(ConfigError, match=r"^second_stage_classification_loss: 'bootstrapped_"
                     r"sigmoid' is not supported by the Faster R-CNN second stage"):
    losses_builder.build_faster_rcnn_classification_loss(
        _classification("bootstrapped_sigmoid { alpha: 0.5 }"))


LOSS_TEXT = """
  localization_loss { weighted_smooth_l1 { delta: 1.0 } }
  classification_loss { weighted_sigmoid {} }
  classification_weight: 2.0
  localization_weight: 0.5
  hard_example_miner { num_hard_examples: 0 iou_threshold: 0.99 loss_type: CLASSIFICATION
                       max_negatives_per_positive: 3 min_negatives_per_image: 2 }
  expected_loss_weights: EXPECTED_SAMPLING
  min_num_negative_samples: 1.0
  equalization_loss { weight: 0.1 exclude_prefixes: "a" }
"""


def test_build_loss_message():
  built = losses_builder.build(text_format.Parse(LOSS_TEXT, losses_pb2.Loss()))
  assert built.classification_loss.func is classification.weighted_sigmoid
  assert built.localization_loss.func is localization.weighted_smooth_l1
  assert (built.classification_weight, built.localization_weight) == (2.0, 0.5)
  assert built.hard_example_miner == losses_builder.HardExampleMinerParams(
      num_hard_examples=None, iou_threshold=pytest.approx(0.99), loss_type="cls",
      cls_loss_weight=2.0, loc_loss_weight=0.5, max_negatives_per_positive=3.0,
      min_negatives_per_image=2)
  assert built.random_example_sampler_positive_fraction is None
  assert built.expected_loss_weights == "expected_sampling"
  assert built.min_num_negative_samples == 1.0
  assert built.desired_negative_sampling_ratio == 3.0
  assert built.equalization_loss_weight == pytest.approx(0.1)
  assert built.equalization_loss_exclude_prefixes == ("a",)


def test_hard_example_miner_rejected_with_focal_loss():
  text = LOSS_TEXT.replace("weighted_sigmoid {}", "weighted_sigmoid_focal {}")
  with pytest.raises(ConfigError, match=r"^loss\.hard_example_miner: cannot be used with the "
                     r"sigmoid focal loss"):
    losses_builder.build(text_format.Parse(text, losses_pb2.Loss()))


def test_random_example_sampler_fraction_must_be_positive():
  text = ("localization_loss { weighted_l2 {} } classification_loss { weighted_sigmoid {} } "
          "random_example_sampler { positive_sample_fraction: 0.0 }")
  with pytest.raises(ConfigError, match=r"positive_sample_fraction: must be positive \(got 0.0"):
    losses_builder.build(text_format.Parse(text, losses_pb2.Loss()))
  ok = losses_builder.build(text_format.Parse(text.replace("0.0", "0.25"), losses_pb2.Loss()))
  assert ok.random_example_sampler_positive_fraction == 0.25
