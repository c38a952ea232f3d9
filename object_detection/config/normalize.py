"""Rewrites accepted aliases to their canonical form and warns about ignored fields.

Runs after parsing and before validation, so that the rest of the library sees one spelling:
- `train_config.fine_tune_checkpoint_type: "fine_tune"` -> "detection" (one DeepMAC config uses
  it; the original CenterNet rejects it at restore time).
- DeepMAC `feature_consistency_*` (the newer original's names, on our field numbers > 1000) ->
  `color_consistency_*` (the snapshot's names and numbers). Setting both spellings differently is
  an error.
- `train_config.max_number_of_boxes` is deprecated and ignored: a warning says which field counts.
"""

import logging

from object_detection.core.errors import ConfigError

_LOG = logging.getLogger(__name__)

FINE_TUNE_TYPE_ALIASES = {"fine_tune": "detection"}

# newer original name -> snapshot name, inside DeepMACMaskEstimation.
_CONSISTENCY_ALIASES = (
    ("feature_consistency_threshold", "color_consistency_threshold"),
    ("feature_consistency_dilation", "color_consistency_dilation"),
    ("feature_consistency_loss_weight", "color_consistency_loss_weight"),
    ("feature_consistency_warmup_steps", "color_consistency_warmup_steps"),
    ("feature_consistency_warmup_start", "color_consistency_warmup_start"),
)


def _normalize_deepmac(deepmac, path):
  for alias, canonical in _CONSISTENCY_ALIASES:
    if not deepmac.HasField(alias):
      continue
    value = getattr(deepmac, alias)
    if deepmac.HasField(canonical) and getattr(deepmac, canonical) != value:
      raise ConfigError(
          f"{path}.{alias}: conflicts with {canonical} (got {value:.6g} and "
          f"{getattr(deepmac, canonical):.6g}; expected only one of the two names, they are the "
          "same setting)")
    setattr(deepmac, canonical, value)
    deepmac.ClearField(alias)


def _normalize_train(train_config, input_max_boxes):
  kind = train_config.fine_tune_checkpoint_type
  if kind in FINE_TUNE_TYPE_ALIASES:
    train_config.fine_tune_checkpoint_type = FINE_TUNE_TYPE_ALIASES[kind]
  if train_config.HasField("max_number_of_boxes"):
    _LOG.warning(
        "train_config.max_number_of_boxes is deprecated and ignored (got %d); ground truth is "
        "padded to train_input_reader.max_number_of_boxes (%d)", train_config.max_number_of_boxes,
        input_max_boxes)


def normalize(pipeline):
  """Rewrites aliases in place in a TrainEvalPipelineConfig and returns it.

  Raises:
    ConfigError: an alias and its canonical field are both set to different values.
  """
  if pipeline.HasField("train_config"):
    _normalize_train(pipeline.train_config, pipeline.train_input_reader.max_number_of_boxes)
  if pipeline.model.WhichOneof("model") == "center_net":
    center_net = pipeline.model.center_net
    if center_net.HasField("deepmac_mask_estimation"):
      _normalize_deepmac(center_net.deepmac_mask_estimation,
                         "model.center_net.deepmac_mask_estimation")
  return pipeline
