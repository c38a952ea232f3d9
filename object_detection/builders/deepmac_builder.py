"""The adapter of `CenterNet.DeepMACMaskEstimation`: checks the message and turns it into the
DeepMACTask's constructor arguments (the only code that reads it).

    problems = Problems()
    args = deepmac_builder.translate(message, num_classes, problems)   # nothing built
    task = deepmac_builder.build_task(message, num_classes, num_feature_outputs)

`translate` is what load-time validation runs (every problem collected); `build_task` runs it,
raises the problems, then builds the mask network and the task. `network_type` is resolved
here, once, into a `mask_networks.MaskNetworkType` (the registry entry), which both checks what
the network requires of the other fields and builds the mask network.
"""

import dataclasses

from object_detection.builders import losses_builder
from object_detection.core import registries
from object_detection.core.problems import Problems, short_float as _g
from object_detection.losses import classification
from object_detection.meta_architectures.deepmac import losses as deepmac_losses
from object_detection.meta_architectures.deepmac import mask_networks
from object_detection.meta_architectures.deepmac import task as task_lib

FIELD = "model.center_net.deepmac_mask_estimation"
_CLASSIFICATION_LOSSES = ("weighted_sigmoid", "weighted_dice_classification_loss")


@dataclasses.dataclass(frozen=True)
class DeepMACArgs:
  """What `translate` makes of the message.

  task: DeepMACTask keyword arguments (all but num_feature_outputs and mask_net).
  network: the resolved MaskNetworkType, or None when network_type is unknown.
  mask_net: MaskHeadNetwork keyword arguments besides the network.
  """
  task: dict
  network: object
  mask_net: dict


def _enum_name(message, field):
  """Lower-cased name of an enum field's value (e.g. EXPAND_SYMMETRIC -> expand_symmetric)."""
  enum_type = message.DESCRIPTOR.fields_by_name[field].enum_type
  return enum_type.values_by_number[getattr(message, field)].name.lower()


def _classification_loss(message, problems, path):
  """The mask classification loss callable (unset means weighted_sigmoid), or None."""
  name = message.WhichOneof("classification_loss") or "weighted_sigmoid"
  if name not in _CLASSIFICATION_LOSSES:
    problems.add(path, f"not supported for DeepMAC masks (got {name!r}; expected "
                 f"{' or '.join(_CLASSIFICATION_LOSSES)})")
    return None
  if message.WhichOneof("classification_loss") is None:
    return classification.weighted_sigmoid
  return losses_builder.build_classification_loss(message, path)


def _check_class_ids(ids, num_classes, problems, path):
  bad = [i for i in ids if i < 1 or (num_classes > 0 and i > num_classes)]
  if bad:
    expected = f"ids in 1..{num_classes}" if num_classes > 0 else "ids >= 1"
    problems.add(path, f"class id out of range (got {', '.join(map(str, bad))}; expected "
                 f"{expected}, 1-based like the label map)")
  repeated = sorted({i for i in ids if ids.count(i) > 1})
  if repeated:
    problems.add(path, f"duplicate class ids (got {', '.join(map(str, repeated))}; expected "
                 "each id once)")


def _check_options(m, problems, path):
  """The option combinations the original rejects, and the ones not implemented here."""
  if m.mask_num_subsamples > 0:
    problems.add(f"{path}.mask_num_subsamples", "instance subsampling is not supported (got "
                 f"{m.mask_num_subsamples}; expected -1 or 0, as in the original)")
  if m.max_roi_jitter_ratio < 0:
    problems.add(f"{path}.max_roi_jitter_ratio",
                 f"must not be negative (got {_g(m.max_roi_jitter_ratio)}; expected >= 0)")
  if m.predict_full_resolution_masks and m.max_roi_jitter_ratio > 0:
    problems.add(f"{path}.max_roi_jitter_ratio", "RoI jitter needs RoI crops (got "
                 f"{_g(m.max_roi_jitter_ratio)} with predict_full_resolution_masks: true; "
                 "expected 0 with full-resolution masks)")
  if m.pointly_supervised_keypoint_loss_weight > 0:
    problems.add(f"{path}.pointly_supervised_keypoint_loss_weight", "point supervision from "
                 "keypoints is not implemented (keypoints are out of scope) (got "
                 f"{_g(m.pointly_supervised_keypoint_loss_weight)}; expected 0)")
  low, high = m.augmented_self_supervision_scale_min, m.augmented_self_supervision_scale_max
  if low <= 0 or high < low:
    problems.add(f"{path}.augmented_self_supervision_scale_min", "the scale range needs 0 < "
                 f"min <= max (got min {_g(low)}, max {_g(high)}; expected 0 < min <= max)")
  # Colour consistency works with RoI crops here too (the original silently returned 0 there).


def _losses(m):
  """The weak losses that are on (weight > 0), as the task's loss settings."""
  box = color = selfsup = None
  if m.box_consistency_loss_weight > 0:
    box = deepmac_losses.BoxConsistency(
        weight=m.box_consistency_loss_weight,
        normalize=_enum_name(m, "box_consistency_loss_normalize"),
        tightness=m.box_consistency_tightness)
  if m.color_consistency_loss_weight > 0:
    color = deepmac_losses.ColorConsistency(
        weight=m.color_consistency_loss_weight, threshold=m.color_consistency_threshold,
        dilation=m.color_consistency_dilation,
        warmup_start=m.color_consistency_warmup_start,
        warmup_steps=m.color_consistency_warmup_steps,
        feature_map=_enum_name(m, "feature_consistency_type") == "consistency_feature_map",
        comparison=_enum_name(m, "feature_consistency_comparison"))
  if m.augmented_self_supervision_loss_weight > 0:
    selfsup = deepmac_losses.SelfSupervision(
        weight=m.augmented_self_supervision_loss_weight,
        loss=_enum_name(m, "augmented_self_supervision_loss"),
        max_translation=m.augmented_self_supervision_max_translation,
        flip_probability=m.augmented_self_supervision_flip_probability,
        scale_min=m.augmented_self_supervision_scale_min,
        scale_max=m.augmented_self_supervision_scale_max,
        warmup_start=m.augmented_self_supervision_warmup_start,
        warmup_steps=m.augmented_self_supervision_warmup_steps)
  return dict(box_consistency=box, color_consistency=color, self_supervision=selfsup)


def translate(message, num_classes, problems, path=FIELD):
  """Checks a DeepMACMaskEstimation message and returns its DeepMACArgs (nothing is built).

  Args:
    message: center_net_pb2.CenterNet.DeepMACMaskEstimation (aliases already normalised).
    num_classes: int, the model's num_classes (range of allowed_masked_classes_ids).
    problems: core.problems.Problems, receives `<path>.<field>: ...` lines.
    path: the message's config path.
  """
  m = message
  for field in ("dim", "pixel_embedding_dim", "mask_size", "num_init_channels",
                "postprocess_crop_size"):
    problems.positive(m, field, path)
  ids = list(m.allowed_masked_classes_ids)
  _check_class_ids(ids, num_classes, problems, f"{path}.allowed_masked_classes_ids")
  network = None
  if problems.registered(registries.DEEPMAC_MASK_NETWORKS, m.network_type,
                         f"{path}.network_type"):
    network = registries.DEEPMAC_MASK_NETWORKS.get(m.network_type)
  _check_options(m, problems, path)
  if network is not None:
    for field, problem in network.requirements(
        dim=m.dim, pixel_embedding_dim=m.pixel_embedding_dim, use_xy=m.use_xy,
        use_instance_embedding=m.use_instance_embedding,
        num_init_channels=m.num_init_channels,
        predict_full_resolution_masks=m.predict_full_resolution_masks):
      problems.add(f"{path}.{field}", problem)
  task = dict(
      dim=m.dim, pixel_embedding_dim=m.pixel_embedding_dim, mask_size=m.mask_size,
      use_xy=m.use_xy, predict_full_resolution_masks=m.predict_full_resolution_masks,
      postprocess_crop_size=m.postprocess_crop_size, allowed_masked_classes_ids=tuple(ids),
      use_only_last_stage=m.use_only_last_stage, max_roi_jitter_ratio=m.max_roi_jitter_ratio,
      roi_jitter_mode=_enum_name(m, "jitter_mode"),
      ignore_per_class_box_overlap=m.ignore_per_class_box_overlap,
      classification_loss=_classification_loss(m.classification_loss, problems,
                                               f"{path}.classification_loss"),
      task_loss_weight=m.task_loss_weight, **_losses(m))
  mask_net = dict(num_init_channels=m.num_init_channels, mask_size=m.mask_size,
                  use_instance_embedding=m.use_instance_embedding)
  return DeepMACArgs(task=task, network=network, mask_net=mask_net)


def build_task(message, num_classes, num_feature_outputs, path=FIELD):
  """DeepMACMaskEstimation -> DeepMACTask with one head set per backbone output.

  Raises:
    ConfigError: listing every problem of the message.
  """
  problems = Problems()
  args = translate(message, num_classes, problems, path)
  problems.raise_if_any()
  return make_task(args, num_classes, num_feature_outputs)


def make_task(args, num_classes, num_feature_outputs):
  """DeepMACArgs of a message without problems -> DeepMACTask (builds the mask network)."""
  mask_net = mask_networks.MaskHeadNetwork(args.network, **args.mask_net)
  return task_lib.DeepMACTask(num_classes, num_feature_outputs, mask_net, **args.task)
