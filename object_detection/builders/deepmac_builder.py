"""Builds DeepMAC (CenterNet + DeepMAC mask task) from `model.center_net` with
`deepmac_mask_estimation` set.

    model = deepmac_builder.build(pipeline.model.center_net, is_training=True)
    params = deepmac_builder.deepmac_params(center_net_config.deepmac_mask_estimation)
"""

from object_detection.builders import center_net_builder
from object_detection.builders import image_resizer_builder
from object_detection.core.errors import ConfigError
from object_detection.meta_architectures.deepmac import meta_arch
from object_detection.meta_architectures.deepmac import params as params_lib
from object_detection.meta_architectures.deepmac import task as task_lib

FIELD = params_lib.FIELD_PATH
# Fields that are not DeepMACParams attributes, or that are read specially.
_SPECIAL = {"classification_loss", "jitter_mode", "allowed_masked_classes_ids"}
# Newer-config aliases of color_consistency_* (the config loader moves them; never read here).
_ALIASES = {"feature_consistency_threshold", "feature_consistency_dilation",
            "feature_consistency_loss_weight", "feature_consistency_warmup_steps",
            "feature_consistency_warmup_start"}


def _classification_loss(message):
  """(name, dice options) from a ClassificationLoss; unset means weighted_sigmoid."""
  name = message.WhichOneof("classification_loss")
  if name is None or name == "weighted_sigmoid":
    return {"classification_loss": "weighted_sigmoid"}
  if name == "weighted_dice_classification_loss":
    dice = message.weighted_dice_classification_loss
    return {"classification_loss": name,
            "dice_squared_normalization": dice.squared_normalization,
            "dice_is_prediction_probability": dice.is_prediction_probability}
  raise ConfigError(f"{FIELD}.classification_loss: not supported for DeepMAC masks "
                    f"(got {name!r}; expected weighted_sigmoid or "
                    "weighted_dice_classification_loss)")


def deepmac_params(deepmac_config):
  """DeepMACMaskEstimation message -> DeepMACParams (enums as lower-cased names).

  Raises ConfigError for unsupported values and combinations (params.validate).
  """
  values = _classification_loss(deepmac_config.classification_loss)
  for field in deepmac_config.DESCRIPTOR.fields:
    if field.name in _SPECIAL or field.name in _ALIASES:
      continue
    value = getattr(deepmac_config, field.name)
    if field.enum_type is not None:
      value = field.enum_type.values_by_number[value].name.lower()
    values[field.name] = value
  values["roi_jitter_mode"] = deepmac_config.DESCRIPTOR.fields_by_name[
      "jitter_mode"].enum_type.values_by_number[deepmac_config.jitter_mode].name.lower()
  values["allowed_masked_classes_ids"] = tuple(deepmac_config.allowed_masked_classes_ids)
  return params_lib.DeepMACParams(**values)


def build_deepmac_task(center_net_config, is_training, num_outputs=None):
  """The DeepMACTask of a center_net config (`num_outputs`: backbone outputs, default from the
  extractor type)."""
  del is_training  # the task takes `training` per call
  if num_outputs is None:
    num_outputs = center_net_builder.num_feature_outputs(center_net_config)
  params = deepmac_params(center_net_config.deepmac_mask_estimation)
  return task_lib.DeepMACTask(params, center_net_config.num_classes, num_outputs)


def build(center_net_config, is_training):
  """Returns a DeepMACMetaArch: the CenterNet extractor, detection tasks and the mask task."""
  if not center_net_config.HasField("deepmac_mask_estimation"):
    raise ConfigError(f"{FIELD}: not set (expected a DeepMACMaskEstimation message)")
  deepmac_task = build_deepmac_task(center_net_config, is_training)
  extractor = center_net_builder.build_feature_extractor(center_net_config, is_training)
  tasks = center_net_builder.build_detection_tasks(center_net_config, is_training,
                                                   num_outputs=extractor.num_feature_outputs)
  if extractor.num_feature_outputs != deepmac_task.num_feature_outputs:
    deepmac_task = build_deepmac_task(center_net_config, is_training,
                                      extractor.num_feature_outputs)
  resizer = image_resizer_builder.build(center_net_config.image_resizer,
                                        field_path="model.center_net.image_resizer")
  return meta_arch.DeepMACMetaArch(center_net_config.num_classes, extractor, resizer,
                                   tasks + [deepmac_task])
