"""Builds loss callables from losses.proto messages.

Every loss is a pure function of losses/classification.py, losses/localization.py or
losses/center_net.py with its config values bound (`functools.partial`, so `.func` and
`.keywords` show what was built). Called as `loss(prediction, target, weights)` it returns
per-element / per-anchor values; the model sums and normalises.

Entries of `core.registries.LOSSES` are keyed by the exact oneof names users write in configs
(`weighted_sigmoid`, `weighted_smooth_l1`, `penalty_reduced_logistic_focal_loss`, ...) and are
called as `fn(inner_message, field_path) -> loss callable`.
"""

import dataclasses
import functools
from typing import Callable, Optional, Tuple

from object_detection.core.errors import ConfigError
from object_detection.core.registries import LOSSES
from object_detection.losses import classification
from object_detection.losses import localization


def _center_net_losses():
  # Owned by the CenterNet code; imported when first needed so this module stays light.
  from object_detection.losses import center_net  # pylint: disable=import-outside-toplevel
  return center_net


def _check_range(value, low, high, field_path, what):
  if not low <= value <= high:
    raise ConfigError(f"{field_path}: {what} out of range (got {value}; expected {low} to {high})")


def _check_positive(value, field_path):
  if not value > 0:
    raise ConfigError(f"{field_path}: must be positive (got {value}; expected > 0)")


# ---- Classification losses (ClassificationLoss oneof `classification_loss`).

@LOSSES.register("weighted_sigmoid")
def _weighted_sigmoid(message, field_path="weighted_sigmoid"):
  del message, field_path  # anchorwise_output is deprecated and ignored.
  return functools.partial(classification.weighted_sigmoid)


@LOSSES.register("weighted_sigmoid_focal")
def _weighted_sigmoid_focal(message, field_path="weighted_sigmoid_focal"):
  alpha = message.alpha if message.HasField("alpha") else None
  if alpha is not None:
    _check_range(alpha, 0.0, 1.0, f"{field_path}.alpha", "alpha")
  if message.gamma < 0:
    raise ConfigError(f"{field_path}.gamma: must be non-negative (got {message.gamma}; "
                      "expected >= 0)")
  return functools.partial(classification.sigmoid_focal, gamma=message.gamma, alpha=alpha)


@LOSSES.register("weighted_softmax")
def _weighted_softmax(message, field_path="weighted_softmax"):
  _check_positive(message.logit_scale, f"{field_path}.logit_scale")
  return functools.partial(classification.weighted_softmax, logit_scale=message.logit_scale)


@LOSSES.register("weighted_logits_softmax")
def _weighted_logits_softmax(message, field_path="weighted_logits_softmax"):
  _check_positive(message.logit_scale, f"{field_path}.logit_scale")
  return functools.partial(classification.weighted_logits_softmax,
                           logit_scale=message.logit_scale)


@LOSSES.register("bootstrapped_sigmoid")
def _bootstrapped_sigmoid(message, field_path="bootstrapped_sigmoid"):
  _check_range(message.alpha, 0.0, 1.0, f"{field_path}.alpha", "alpha")
  return functools.partial(classification.bootstrapped_sigmoid, alpha=message.alpha,
                           hard_bootstrap=message.hard_bootstrap)


@LOSSES.register("penalty_reduced_logistic_focal_loss")
def _penalty_reduced_logistic_focal_loss(message, field_path="penalty_reduced_logistic_focal_loss"):
  del field_path
  return functools.partial(_center_net_losses().penalty_reduced_logistic_focal_loss,
                           alpha=message.alpha, beta=message.beta)


@LOSSES.register("weighted_dice_classification_loss")
def _weighted_dice(message, field_path="weighted_dice_classification_loss"):
  del field_path
  return functools.partial(classification.weighted_dice,
                           squared_normalization=message.squared_normalization,
                           is_prediction_probability=message.is_prediction_probability)


# ---- Localization losses (LocalizationLoss oneof `localization_loss`).

@LOSSES.register("weighted_l2")
def _weighted_l2(message, field_path="weighted_l2"):
  del message, field_path
  return functools.partial(localization.weighted_l2)


@LOSSES.register("weighted_smooth_l1")
def _weighted_smooth_l1(message, field_path="weighted_smooth_l1"):
  _check_positive(message.delta, f"{field_path}.delta")
  return functools.partial(localization.weighted_smooth_l1, delta=message.delta)


@LOSSES.register("weighted_iou")
def _weighted_iou(message, field_path="weighted_iou"):
  del message, field_path
  return functools.partial(localization.weighted_iou)


@LOSSES.register("weighted_giou")
def _weighted_giou(message, field_path="weighted_giou"):
  del message, field_path
  return functools.partial(localization.weighted_giou)


@LOSSES.register("ciou_loss")
def _ciou(message, field_path="ciou_loss"):
  del message, field_path
  return functools.partial(localization.ciou)


@LOSSES.register("l1_localization_loss")
def _l1_localization_loss(message, field_path="l1_localization_loss"):
  del message, field_path
  return functools.partial(_center_net_losses().l1)


_CLASSIFICATION_NAMES = ("weighted_sigmoid", "weighted_softmax", "weighted_logits_softmax",
                         "bootstrapped_sigmoid", "weighted_sigmoid_focal",
                         "penalty_reduced_logistic_focal_loss",
                         "weighted_dice_classification_loss")
_LOCALIZATION_NAMES = ("weighted_l2", "weighted_smooth_l1", "weighted_iou",
                       "l1_localization_loss", "weighted_giou", "ciou_loss")


def _check_message(message, full_name, field_path):
  got = getattr(getattr(message, "DESCRIPTOR", None), "full_name", type(message).__name__)
  if got != full_name:
    raise ConfigError(f"{field_path}: wrong message type (got {got}; expected {full_name})")


def _build_from_oneof(message, oneof, allowed, field_path):
  name = message.WhichOneof(oneof)
  if name is None:
    raise ConfigError(f"{field_path}: empty loss config (got nothing; expected one of: "
                      f"{', '.join(allowed)})")
  inner_path = f"{field_path}.{name}"
  return LOSSES.get(name, field_path=inner_path)(getattr(message, name), field_path=inner_path)


def build_classification_loss(message, field_path="classification_loss"):
  """ClassificationLoss message -> loss callable `fn(prediction, target, weights)`.

  Raises:
    ConfigError: wrong message type, no loss selected, or an out-of-range parameter.
  """
  _check_message(message, "object_detection.protos.ClassificationLoss", field_path)
  return _build_from_oneof(message, "classification_loss", _CLASSIFICATION_NAMES, field_path)


def build_localization_loss(message, field_path="localization_loss"):
  """LocalizationLoss message -> loss callable `fn(prediction, target, weights)`.

  Raises:
    ConfigError: wrong message type, no loss selected, or an out-of-range parameter.
  """
  _check_message(message, "object_detection.protos.LocalizationLoss", field_path)
  return _build_from_oneof(message, "localization_loss", _LOCALIZATION_NAMES, field_path)


_FASTER_RCNN_CLASSIFICATION = ("weighted_softmax", "weighted_sigmoid", "weighted_logits_softmax",
                               "weighted_sigmoid_focal")


def build_faster_rcnn_classification_loss(message,
                                          field_path="second_stage_classification_loss"):
  """Second-stage classification loss of Faster R-CNN.

  Unset -> weighted softmax with logit_scale 1 (the original's default). The original silently
  falls back to softmax for bootstrapped / dice / penalty-reduced losses too; we reject them.

  Args:
    message: ClassificationLoss message (possibly empty).
    field_path: where it sits in the config, for errors.
  Returns:
    loss callable `fn(prediction, target, weights)`.
  Raises:
    ConfigError: a loss the second stage cannot use, or a bad parameter.
  """
  _check_message(message, "object_detection.protos.ClassificationLoss", field_path)
  name = message.WhichOneof("classification_loss")
  if name is None:
    return functools.partial(classification.weighted_softmax, logit_scale=1.0)
  if name not in _FASTER_RCNN_CLASSIFICATION:
    raise ConfigError(f"{field_path}: {name!r} is not supported by the Faster R-CNN second "
                      f"stage (got {name}; expected one of: "
                      f"{', '.join(_FASTER_RCNN_CLASSIFICATION)})")
  return _build_from_oneof(message, "classification_loss", _FASTER_RCNN_CLASSIFICATION,
                           field_path)


@dataclasses.dataclass(frozen=True)
class HardExampleMinerParams:
  """Online hard example mining settings (the original's HardExampleMiner constructor).

  num_hard_examples: examples kept per image before the negative:positive cap; None = all that
    survive the NMS.
  iou_threshold: NMS IoU used to de-duplicate the mined boxes.
  loss_type: "both", "cls" or "loc": which loss ranks the examples.
  cls_loss_weight, loc_loss_weight: weights of the two losses when loss_type is "both" (the Loss
    message's classification_weight / localization_weight).
  max_negatives_per_positive: cap on the negative:positive ratio; None = no cap.
  min_negatives_per_image: negatives kept even in images without positives.
  """
  num_hard_examples: Optional[int]
  iou_threshold: float
  loss_type: str
  cls_loss_weight: float
  loc_loss_weight: float
  max_negatives_per_positive: Optional[float]
  min_negatives_per_image: int


_MINER_LOSS_TYPES = {0: "both", 1: "cls", 2: "loc"}


def build_hard_example_miner(message, classification_weight, localization_weight,
                             field_path="hard_example_miner"):
  """HardExampleMiner message -> HardExampleMinerParams (the mining itself is the model's)."""
  _check_message(message, "object_detection.protos.HardExampleMiner", field_path)
  _check_range(message.iou_threshold, 0.0, 1.0, f"{field_path}.iou_threshold", "IoU threshold")
  return HardExampleMinerParams(
      num_hard_examples=message.num_hard_examples if message.num_hard_examples > 0 else None,
      iou_threshold=message.iou_threshold,
      loss_type=_MINER_LOSS_TYPES[message.loss_type],
      cls_loss_weight=classification_weight,
      loc_loss_weight=localization_weight,
      max_negatives_per_positive=(float(message.max_negatives_per_positive)
                                  if message.max_negatives_per_positive > 0 else None),
      min_negatives_per_image=message.min_negatives_per_image)


@dataclasses.dataclass(frozen=True)
class LossConfig:
  """Everything a Loss message configures (the original returned it as a 7-tuple).

  classification_loss, localization_loss: loss callables `fn(prediction, target, weights)`.
  classification_weight, localization_weight: multipliers of the two terms.
  hard_example_miner: HardExampleMinerParams or None.
  random_example_sampler_positive_fraction: positive fraction of a random balanced sampler, or
    None (no sampler).
  expected_loss_weights: "none", "expected_sampling" or "reweighting_unmatched_anchors".
  min_num_negative_samples, desired_negative_sampling_ratio: parameters of the expected loss
    weights (unused with "none").
  equalization_loss_weight, equalization_loss_exclude_prefixes: equalization loss (weight 0 = off).
  """
  classification_loss: Callable
  localization_loss: Callable
  classification_weight: float
  localization_weight: float
  hard_example_miner: Optional[HardExampleMinerParams] = None
  random_example_sampler_positive_fraction: Optional[float] = None
  expected_loss_weights: str = "none"
  min_num_negative_samples: float = 0.0
  desired_negative_sampling_ratio: float = 3.0
  equalization_loss_weight: float = 0.0
  equalization_loss_exclude_prefixes: Tuple[str, ...] = ()


_EXPECTED_LOSS_WEIGHTS = {0: "none", 1: "expected_sampling", 2: "reweighting_unmatched_anchors"}


def build(message, field_path="loss"):
  """Loss message -> LossConfig.

  Raises:
    ConfigError: missing classification or localization loss, hard example mining with the
      sigmoid focal loss (the original rejects it), a non-positive sampler fraction, or a bad
      loss parameter.
  """
  _check_message(message, "object_detection.protos.Loss", field_path)
  classification_loss = build_classification_loss(message.classification_loss,
                                                  f"{field_path}.classification_loss")
  localization_loss = build_localization_loss(message.localization_loss,
                                              f"{field_path}.localization_loss")
  miner = None
  if message.HasField("hard_example_miner"):
    if message.classification_loss.WhichOneof("classification_loss") == "weighted_sigmoid_focal":
      raise ConfigError(f"{field_path}.hard_example_miner: cannot be used with the sigmoid focal "
                        "loss (got weighted_sigmoid_focal; expected no hard_example_miner or "
                        "another classification loss)")
    miner = build_hard_example_miner(message.hard_example_miner, message.classification_weight,
                                     message.localization_weight,
                                     f"{field_path}.hard_example_miner")
  sampler_fraction = None
  if message.HasField("random_example_sampler"):
    sampler_fraction = message.random_example_sampler.positive_sample_fraction
    if sampler_fraction <= 0:
      raise ConfigError(f"{field_path}.random_example_sampler.positive_sample_fraction: must be "
                        f"positive (got {sampler_fraction}; expected > 0)")
  return LossConfig(
      classification_loss=classification_loss,
      localization_loss=localization_loss,
      classification_weight=message.classification_weight,
      localization_weight=message.localization_weight,
      hard_example_miner=miner,
      random_example_sampler_positive_fraction=sampler_fraction,
      expected_loss_weights=_EXPECTED_LOSS_WEIGHTS[message.expected_loss_weights],
      min_num_negative_samples=message.min_num_negative_samples,
      desired_negative_sampling_ratio=message.desired_negative_sampling_ratio,
      equalization_loss_weight=message.equalization_loss.weight,
      equalization_loss_exclude_prefixes=tuple(message.equalization_loss.exclude_prefixes))
