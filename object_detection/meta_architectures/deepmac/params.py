"""DeepMACParams: every `CenterNet.DeepMACMaskEstimation` field as plain Python values.

Only `builders/deepmac_builder.py` reads the proto; everything else takes this frozen dataclass so
it can be built in tests without a config. Field names are the proto's (one exception, as in the
original: `jitter_mode` is stored lower-cased as `roi_jitter_mode`). Defaults are the proto's
defaults (FEATURES.md §1.4). Enum values are stored as their lower-cased names.
"""

import dataclasses

from object_detection.core.errors import ConfigError

FIELD_PATH = "model.center_net.deepmac_mask_estimation"

JITTER_MODES = ("default", "expand", "shrink", "expand_symmetric", "shrink_symmetric",
                "expand_symmetric_xy", "shrink_symmetric_xy")
BOX_CONSISTENCY_NORMALIZE = ("normalize_auto", "normalize_groundtruth_count", "normalize_balanced")
SELF_SUPERVISION_LOSSES = ("loss_dice", "loss_mse", "loss_kl_div")
CONSISTENCY_TYPES = ("consistency_default_lab", "consistency_feature_map")
CONSISTENCY_COMPARISONS = ("comparison_default_gaussian", "comparison_normalized_dotprod")
CLASSIFICATION_LOSSES = ("weighted_sigmoid", "weighted_dice_classification_loss")


@dataclasses.dataclass(frozen=True)
class DeepMACParams:
  """DeepMAC mask-estimation settings (see FEATURES.md §1.4 for each field's meaning)."""
  classification_loss: str = "weighted_sigmoid"
  dice_squared_normalization: bool = False
  dice_is_prediction_probability: bool = False
  task_loss_weight: float = 1.0
  dim: int = 256
  pixel_embedding_dim: int = 16
  allowed_masked_classes_ids: tuple = ()
  mask_size: int = 32
  mask_num_subsamples: int = -1
  use_xy: bool = True
  network_type: str = "hourglass52"
  use_instance_embedding: bool = True
  num_init_channels: int = 64
  predict_full_resolution_masks: bool = False
  postprocess_crop_size: int = 256
  max_roi_jitter_ratio: float = 0.0
  roi_jitter_mode: str = "default"
  box_consistency_loss_weight: float = 0.0
  color_consistency_threshold: float = 0.4
  color_consistency_dilation: int = 2
  color_consistency_loss_weight: float = 0.0
  box_consistency_loss_normalize: str = "normalize_auto"
  box_consistency_tightness: bool = False
  color_consistency_warmup_steps: int = 0
  color_consistency_warmup_start: int = 0
  use_only_last_stage: bool = False
  augmented_self_supervision_max_translation: float = 0.0
  augmented_self_supervision_flip_probability: float = 0.0
  augmented_self_supervision_loss_weight: float = 0.0
  augmented_self_supervision_warmup_start: int = 0
  augmented_self_supervision_warmup_steps: int = 0
  augmented_self_supervision_loss: str = "loss_dice"
  augmented_self_supervision_scale_min: float = 1.0
  augmented_self_supervision_scale_max: float = 1.0
  pointly_supervised_keypoint_loss_weight: float = 0.0
  ignore_per_class_box_overlap: bool = False
  feature_consistency_type: str = "consistency_default_lab"
  feature_consistency_comparison: str = "comparison_default_gaussian"

  def __post_init__(self):
    object.__setattr__(self, "allowed_masked_classes_ids",
                       tuple(int(i) for i in self.allowed_masked_classes_ids))
    validate(self)

  @property
  def mask_input_channels(self):
    """C_in of the mask network: pixel_dim + 2·use_xy + dim·use_instance_embedding."""
    return (self.pixel_embedding_dim + 2 * int(self.use_xy)
            + self.dim * int(self.use_instance_embedding))


def _check_choice(value, allowed, field):
  if value not in allowed:
    raise ConfigError(f"{FIELD_PATH}.{field}: unknown value {value!r} "
                      f"(expected one of: {', '.join(allowed)})")


def validate(p):
  """Raises ConfigError for combinations the model cannot run (the original's checks + ours)."""
  _check_choice(p.classification_loss, CLASSIFICATION_LOSSES, "classification_loss")
  _check_choice(p.roi_jitter_mode, JITTER_MODES, "jitter_mode")
  _check_choice(p.box_consistency_loss_normalize, BOX_CONSISTENCY_NORMALIZE,
                "box_consistency_loss_normalize")
  _check_choice(p.augmented_self_supervision_loss, SELF_SUPERVISION_LOSSES,
                "augmented_self_supervision_loss")
  _check_choice(p.feature_consistency_type, CONSISTENCY_TYPES, "feature_consistency_type")
  _check_choice(p.feature_consistency_comparison, CONSISTENCY_COMPARISONS,
                "feature_consistency_comparison")
  if p.network_type == "fully_connected" and p.predict_full_resolution_masks:
    raise ConfigError(f"{FIELD_PATH}.network_type: fully_connected predicts a fixed mask_size "
                      "x mask_size output and cannot run on full-resolution maps (got "
                      "predict_full_resolution_masks: true; expected false)")
  for name in ("dim", "pixel_embedding_dim", "mask_size", "num_init_channels",
               "postprocess_crop_size"):
    if getattr(p, name) <= 0:
      raise ConfigError(f"{FIELD_PATH}.{name}: must be positive (got {getattr(p, name)})")
  if p.mask_num_subsamples > 0:
    raise ConfigError(f"{FIELD_PATH}.mask_num_subsamples: subsampling instances is not supported "
                      f"(got {p.mask_num_subsamples}; expected <= 0)")
  if p.predict_full_resolution_masks and p.max_roi_jitter_ratio > 0.0:
    raise ConfigError(f"{FIELD_PATH}.max_roi_jitter_ratio: RoI jitter has no meaning with "
                      f"predict_full_resolution_masks (got {p.max_roi_jitter_ratio}; expected 0.0 "
                      "when predict_full_resolution_masks is true)")
  if p.pointly_supervised_keypoint_loss_weight > 0.0:
    raise ConfigError(f"{FIELD_PATH}.pointly_supervised_keypoint_loss_weight: point supervision "
                      "from keypoints is not implemented (keypoints are out of scope) "
                      f"(got {p.pointly_supervised_keypoint_loss_weight}; expected 0.0)")
  if p.augmented_self_supervision_scale_min <= 0 or (
      p.augmented_self_supervision_scale_max < p.augmented_self_supervision_scale_min):
    raise ConfigError(
        f"{FIELD_PATH}.augmented_self_supervision_scale_min/max: need 0 < min <= max (got "
        f"{p.augmented_self_supervision_scale_min}, {p.augmented_self_supervision_scale_max})")
  if any(i < 1 for i in p.allowed_masked_classes_ids):
    raise ConfigError(f"{FIELD_PATH}.allowed_masked_classes_ids: ids are 1-based label ids "
                      f"(got {list(p.allowed_masked_classes_ids)}; expected ids >= 1)")
  param_free = is_param_free(p.network_type)
  if param_free and p.use_instance_embedding:
    raise ConfigError(f"{FIELD_PATH}.use_instance_embedding: network_type {p.network_type!r} has "
                      "no parameters of its own and reads the instance embedding directly "
                      "(got true; expected false)")
  if p.network_type == "embedding_projection":
    if p.use_xy:
      raise ConfigError(f"{FIELD_PATH}.use_xy: embedding_projection cannot use x/y coordinates "
                        "(got true; expected false)")
    if p.dim != p.pixel_embedding_dim:
      raise ConfigError(f"{FIELD_PATH}.dim: embedding_projection needs dim == pixel_embedding_dim "
                        f"(got dim={p.dim}, pixel_embedding_dim={p.pixel_embedding_dim})")
  if p.network_type.startswith("cond_inst"):
    depth = cond_inst_depth(p.network_type)
    in_channels = p.mask_input_channels
    if depth == 1 and in_channels != p.num_init_channels:
      raise ConfigError(
          f"{FIELD_PATH}.num_init_channels: cond_inst1 needs num_init_channels equal to the mask "
          f"input channels, as the original (got {p.num_init_channels}; expected {in_channels})")
    need = cond_inst_num_weights(p.mask_input_channels, p.num_init_channels, depth)
    if p.dim != need:
      raise ConfigError(
          f"{FIELD_PATH}.dim: {p.network_type} stores the weights of a {depth}-layer per-pixel MLP "
          f"in the instance embedding (got dim={p.dim}; expected {need} for "
          f"{p.mask_input_channels} input channels and num_init_channels={p.num_init_channels})")


def is_param_free(network_type):
  """True for heads whose weights come from the instance embedding (no variables of their own)."""
  return network_type == "embedding_projection" or network_type.startswith("cond_inst")


def cond_inst_depth(network_type):
  suffix = network_type[len("cond_inst"):]
  if not suffix.isdigit() or int(suffix) < 1:
    raise ConfigError(f"{FIELD_PATH}.network_type: cond_inst needs a depth >= 1 "
                      f"(got {network_type!r}; expected e.g. cond_inst1, cond_inst2)")
  return int(suffix)


def cond_inst_num_weights(in_channels, width, depth):
  """Number of MLP weights a cond_inst{depth} instance embedding holds (original's formula).

  depth 1: one in -> 1 layer (the original requires in == width: width + 1 values).
  depth D > 1: in -> w, (D-2) x w -> w, w -> 1, each with biases.
  """
  if depth == 1:
    return in_channels + 1
  return in_channels * width + width * width * (depth - 2) + width * (depth - 1) + width + 1
