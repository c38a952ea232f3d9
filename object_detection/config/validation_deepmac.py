"""Checks of DeepMACMaskEstimation: sizes, class ids, network_type and the option combinations the
original rejects (FEATURES.md §1.4 "Validation rules")."""

import re

from object_detection.config.problems import short_float as _g
from object_detection.core import registries


# Heads whose weights come from the instance embedding (no trainable parameters of their own).
_PARAM_FREE_NETWORKS = re.compile(r"^(embedding_projection|cond_inst\d+)$")


def _cond_inst_dim(depth, in_channels, width):
  """Instance-embedding size holding the weights of a `depth`-layer per-pixel MLP (CondInst)."""
  return (in_channels * width * (depth > 1) + width * width * max(depth - 2, 0) + width
          + width * (depth - 1) + 1)


def check_deepmac(deepmac, num_classes, path, problems):
  """Adds the problems of a DeepMACMaskEstimation message (at `path`) to `problems`."""
  for field in ("dim", "pixel_embedding_dim", "mask_size", "num_init_channels",
                "postprocess_crop_size"):
    problems.positive(deepmac, field, path)
  bad_ids = [i for i in deepmac.allowed_masked_classes_ids if not 1 <= i <= num_classes]
  if bad_ids and num_classes > 0:
    problems.add(f"{path}.allowed_masked_classes_ids", "class id out of range (got "
                 f"{', '.join(map(str, bad_ids))}; expected ids in 1..{num_classes}, "
                 "1-based like the label map)")
  repeated = sorted({i for i in deepmac.allowed_masked_classes_ids
                     if list(deepmac.allowed_masked_classes_ids).count(i) > 1})
  if repeated:
    problems.add(f"{path}.allowed_masked_classes_ids", "duplicate class ids (got "
                 f"{', '.join(map(str, repeated))}; expected each id once)")
  problems.registered(registries.DEEPMAC_MASK_NETWORKS, deepmac.network_type,
                      f"{path}.network_type")
  if deepmac.mask_num_subsamples > 0:
    problems.add(f"{path}.mask_num_subsamples", "instance subsampling is not supported (got "
                 f"{deepmac.mask_num_subsamples}; expected -1 or 0, as in the original)")
  if deepmac.max_roi_jitter_ratio < 0:
    problems.add(f"{path}.max_roi_jitter_ratio",
                 f"must not be negative (got {_g(deepmac.max_roi_jitter_ratio)}; expected >= 0)")
  full_res = deepmac.predict_full_resolution_masks
  if full_res and deepmac.max_roi_jitter_ratio > 0:
    problems.add(f"{path}.max_roi_jitter_ratio", "RoI jitter needs RoI crops (got "
                 f"{_g(deepmac.max_roi_jitter_ratio)} with predict_full_resolution_masks: true; "
                 "expected 0 with full-resolution masks)")
  if not full_res and deepmac.pointly_supervised_keypoint_loss_weight > 0:
    problems.add(f"{path}.pointly_supervised_keypoint_loss_weight",
                 "point supervision needs full-resolution masks (got "
                 f"{_g(deepmac.pointly_supervised_keypoint_loss_weight)} with "
                 "predict_full_resolution_masks: false; expected 0, or "
                 "predict_full_resolution_masks: true)")
  # Colour consistency works with RoI crops here too (the original silently returned 0 there).
  network = deepmac.network_type
  if _PARAM_FREE_NETWORKS.match(network) and deepmac.use_instance_embedding:
    problems.add(f"{path}.use_instance_embedding", f"network_type {network!r} has no parameters: "
                 "the instance embedding is its weights, not an input (got true; expected false)")
  if network == "embedding_projection":
    if deepmac.use_xy:
      problems.add(f"{path}.use_xy", "embedding_projection takes the pixel embedding only "
                   "(got true; expected false)")
    if deepmac.dim != deepmac.pixel_embedding_dim:
      problems.add(f"{path}.dim", "embedding_projection is a dot product of the two embeddings "
                   f"(got dim {deepmac.dim}; expected pixel_embedding_dim = "
                   f"{deepmac.pixel_embedding_dim})")
  match = re.match(r"^cond_inst(\d+)$", network)
  if match:
    depth = int(match.group(1))
    in_channels = deepmac.pixel_embedding_dim + 2 * deepmac.use_xy
    expected = _cond_inst_dim(depth, in_channels, deepmac.num_init_channels)
    if depth < 1:
      problems.add(f"{path}.network_type", f"CondInst needs >= 1 layer (got {network!r}; "
                   "expected cond_inst1, cond_inst2, ...)")
    elif deepmac.dim != expected:
      problems.add(f"{path}.dim", f"{network} stores a {depth}-layer per-pixel MLP in the "
                   f"instance embedding (got dim {deepmac.dim}; expected {expected} for "
                   f"{in_channels} input channels and num_init_channels "
                   f"{deepmac.num_init_channels})")
