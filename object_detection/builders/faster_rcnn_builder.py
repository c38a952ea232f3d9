"""The Faster / Mask R-CNN adapter: `check` and `build` of a `FasterRcnn` message (registered
as "faster_rcnn" in core.registries.META_ARCHITECTURES by model_builder).

    problems = Problems()
    faster_rcnn_builder.check(message, problems)       # load time: every problem, nothing built
    model = faster_rcnn_builder.build(message, is_training)

Only this module reads faster_rcnn.proto / box_predictor.proto. `_translate` checks the message
and turns it into the components' keyword arguments (`_Args`); `check` runs only that, `build`
runs it, raises the problems, then constructs the feature extractor, the ProposalGenerator (RPN
head, anchors) and the RoIHeads (box head, mask head). Components state their own rules
(`argument_problems` / `param_problems`, which their constructors apply too) as
`<field>: <problem>` lines; this module prefixes the path (`model.faster_rcnn.initial_crop_size:
...`). Unsupported options are rejected with the field path instead of being ignored.
"""

import dataclasses
from typing import Optional

import tensorflow as tf

from object_detection.builders import hyperparams_builder
from object_detection.builders import image_resizer_builder
from object_detection.builders import losses_builder
from object_detection.builders import post_processing_builder
from object_detection.core import registries
from object_detection.core.errors import ConfigError
from object_detection.core.problems import Problems
from object_detection.meta_architectures.faster_rcnn import box_head as box_head_lib
from object_detection.meta_architectures.faster_rcnn import mask_heads
from object_detection.meta_architectures.faster_rcnn import meta_arch
from object_detection.meta_architectures.faster_rcnn import postprocess
from object_detection.meta_architectures.faster_rcnn import proposal_generator
from object_detection.meta_architectures.faster_rcnn import roi_heads
from object_detection.meta_architectures.faster_rcnn import rpn
from object_detection.models import faster_rcnn_extractors
from object_detection.ops import anchors as anchors_lib

FIELD = "model.faster_rcnn"


@dataclasses.dataclass
class _Args:
  """What `_translate` makes of a message (parts are None where the message has problems).

  extractor: (registry factory, ExtractorParams). anchors: Grid/MultiscaleAnchorParams.
  rpn_head, proposal_generator, box_head, roi_heads: constructor keyword arguments (RPNHead
  without num_anchors_per_location; RoIHeads without box_head and mask_head; roi_heads None for
  an RPN-only model). mask_head: (registry factory, MaskHeadParams) or None without masks.
  """
  num_classes: int
  resizer: object = None
  extractor: Optional[tuple] = None
  anchors: object = None
  rpn_head: Optional[dict] = None
  proposal_generator: Optional[dict] = None
  box_head: Optional[dict] = None
  mask_head: Optional[tuple] = None
  roi_heads: Optional[dict] = None
  mask_supervised_class_ids: tuple = ()


def _collect(problems, fn, *args, **kwargs):
  """fn(*args, **kwargs), or None after adding the lines of its ConfigError to `problems`."""
  try:
    return fn(*args, **kwargs)
  except ConfigError as e:
    problems.lines.extend(str(e).splitlines())
    return None


def _add_all(problems, path, lines):
  """Adds a component's `<field>: <problem>` lines under `path`."""
  for line in lines:
    field, _, problem = line.partition(": ")
    problems.add(f"{path}.{field}", problem)


def _extractor_args(config, problems, root):
  fe = config.feature_extractor
  path = f"{root}.feature_extractor"
  if not problems.registered(registries.FASTER_RCNN_FEATURE_EXTRACTORS, fe.type, f"{path}.type"):
    return None
  params = faster_rcnn_extractors.ExtractorParams(
      first_stage_features_stride=fe.first_stage_features_stride,
      batch_norm_trainable=fe.batch_norm_trainable)
  if fe.HasField("fpn"):
    params = faster_rcnn_extractors.ExtractorParams(
        first_stage_features_stride=fe.first_stage_features_stride,
        batch_norm_trainable=fe.batch_norm_trainable, fpn_min_level=fe.fpn.min_level,
        fpn_max_level=fe.fpn.max_level, fpn_additional_layer_depth=fe.fpn.additional_layer_depth)
  elif fe.type.endswith("_fpn_keras"):
    problems.add(f"{path}.fpn", f"{fe.type} needs an fpn message (got none; expected "
                 "fpn { min_level: 2 max_level: 6 })")
    return None
  lines = faster_rcnn_extractors.param_problems(fe.type, params)
  _add_all(problems, path, lines)
  return None if lines else (registries.FASTER_RCNN_FEATURE_EXTRACTORS.get(fe.type), params)


def _feature_strides(config):
  """Strides of the proposal feature maps the extractor will produce (without building it)."""
  fe = config.feature_extractor
  if fe.HasField("fpn"):
    return tuple(2 ** l for l in range(fe.fpn.min_level, fe.fpn.max_level + 1))
  return (fe.first_stage_features_stride,)


def _anchor_params(config, strides, root):
  """Anchor parameters (raises ConfigError)."""
  message = config.first_stage_anchor_generator
  path = f"{root}.first_stage_anchor_generator"
  kind = message.WhichOneof("anchor_generator_oneof")
  fpn_levels = len(strides)
  if kind == "grid_anchor_generator":
    g = message.grid_anchor_generator
    if fpn_levels != 1:
      raise ConfigError(f"{path}: the FPN feature extractor needs multiscale_anchor_generator "
                        "(got grid_anchor_generator; expected multiscale_anchor_generator)")
    defaults = anchors_lib.GridAnchorParams()
    return anchors_lib.GridAnchorParams(
        scales=tuple(g.scales) or defaults.scales,
        aspect_ratios=tuple(g.aspect_ratios) or defaults.aspect_ratios,
        height=g.height, width=g.width, height_stride=g.height_stride,
        width_stride=g.width_stride, height_offset=g.height_offset, width_offset=g.width_offset)
  if kind == "multiscale_anchor_generator":
    m = message.multiscale_anchor_generator
    params = anchors_lib.MultiscaleAnchorParams(
        min_level=m.min_level, max_level=m.max_level, anchor_scale=m.anchor_scale,
        aspect_ratios=tuple(m.aspect_ratios) or (1.0, 2.0, 0.5),
        scales_per_octave=m.scales_per_octave)
    levels = tuple(2 ** l for l in range(m.min_level, m.max_level + 1))
    if levels != tuple(strides):
      raise ConfigError(
          f"{path}.multiscale_anchor_generator: levels do not match the feature extractor "
          f"(got strides {list(levels)}; expected {list(strides)})")
    return params
  raise ConfigError(f"{path}: unsupported anchor generator (got {kind}; expected "
                    "grid_anchor_generator or multiscale_anchor_generator)")


def _mask_head_args(box_predictor, num_classes, problems, path):
  """(factory, MaskHeadParams) of the mask head, or None (no masks, or problems)."""
  bp = box_predictor
  if bp.predict_keypoints:
    problems.add(f"{path}.predict_keypoints", "keypoints are not supported (got true; "
                 "expected false)")
  if not bp.predict_instance_masks:
    return None
  hyperparams = _collect(problems, hyperparams_builder.build, bp.conv_hyperparams,
                         f"{path}.conv_hyperparams", default=mask_heads.DEFAULT_HYPERPARAMS)
  if not problems.registered(registries.MASK_RCNN_MASK_HEADS, bp.mask_head_network_type,
                             f"{path}.mask_head_network_type") or hyperparams is None:
    return None
  params = mask_heads.MaskHeadParams(
      num_classes=num_classes, mask_height=bp.mask_height, mask_width=bp.mask_width,
      num_conv_layers=bp.mask_prediction_num_conv_layers,
      conv_depth=bp.mask_prediction_conv_depth, class_agnostic=bp.masks_are_class_agnostic,
      convolve_then_upsample=bp.convolve_then_upsample_masks, hyperparams=hyperparams,
      upsample_factor=bp.mask_head_upsample_factor, num_filters=bp.mask_head_num_filters)
  lines = mask_heads.param_problems(bp.mask_head_network_type, params)
  _add_all(problems, path, lines)
  if lines:
    return None
  return registries.MASK_RCNN_MASK_HEADS.get(bp.mask_head_network_type), params


def _classification_loss(config, root):
  path = f"{root}.second_stage_classification_loss"
  fn = losses_builder.build_faster_rcnn_classification_loss(
      config.second_stage_classification_loss, field_path=path)

  def loss(logits, onehot):
    per = fn(logits, onehot, tf.ones_like(logits[..., :1]))
    return tf.reduce_sum(per, axis=-1) if len(per.shape) == len(logits.shape) else per
  return loss


def _check_unsupported(config, problems, root):
  checks = [
      (config.HasField("hard_example_miner"), "hard_example_miner",
       "online hard example mining is not implemented"),
      (config.HasField("context_config"), "context_config", "Context R-CNN is not implemented"),
      (config.output_final_box_features or config.output_final_box_rpn_features,
       "output_final_box_features", "box feature outputs are not implemented"),
  ]
  for bad, field, why in checks:
    if bad:
      problems.add(f"{root}.{field}", f"{why} (got it set; expected it unset)")


def _rpn_args(config, problems, root):
  """(RPNHead kwargs without num_anchors_per_location, ProposalGenerator kwargs)."""
  hyperparams = _collect(
      problems, hyperparams_builder.build, config.first_stage_box_predictor_conv_hyperparams,
      f"{root}.first_stage_box_predictor_conv_hyperparams", default=rpn.DEFAULT_HYPERPARAMS)
  head = dict(depth=config.first_stage_box_predictor_depth,
              kernel_size=config.first_stage_box_predictor_kernel_size,
              atrous_rate=config.first_stage_atrous_rate, hyperparams=hyperparams)
  generator = dict(
      clip_anchors_to_image=config.clip_anchors_to_image,
      minibatch_size=config.first_stage_minibatch_size,
      positive_fraction=config.first_stage_positive_balance_fraction,
      nms_score_threshold=config.first_stage_nms_score_threshold,
      nms_iou_threshold=config.first_stage_nms_iou_threshold,
      max_proposals=config.first_stage_max_proposals,
      localization_loss_weight=config.first_stage_localization_loss_weight,
      objectness_loss_weight=config.first_stage_objectness_loss_weight)
  _add_all(problems, root, proposal_generator.argument_problems(
      max_proposals=generator["max_proposals"],
      positive_fraction=generator["positive_fraction"]))
  return head, generator


def _second_stage_nms(config, root):
  """(NMSParams, score_fn) (raises ConfigError)."""
  path = f"{root}.second_stage_post_processing"
  nms_params, score_fn = post_processing_builder.build(config.second_stage_post_processing,
                                                       field_path=path)
  if nms_params.soft_nms_sigma > 0:
    raise ConfigError(f"{path}.batch_non_max_suppression.soft_nms_sigma: Soft-NMS is not "
                      f"implemented (got {nms_params.soft_nms_sigma}; expected 0)")
  nms = postprocess.NMSParams(
      score_threshold=nms_params.score_threshold, iou_threshold=nms_params.iou_threshold,
      max_detections_per_class=nms_params.max_detections_per_class,
      max_total_detections=nms_params.max_total_detections,
      use_class_agnostic_nms=nms_params.use_class_agnostic_nms)
  return nms, score_fn


def _roi_heads_args(config, args, problems, root):
  """Fills args.box_head, args.mask_head and args.roi_heads (the box predictor must be
  mask_rcnn_box_predictor)."""
  path = f"{root}.second_stage_box_predictor"
  kind = config.second_stage_box_predictor.WhichOneof("box_predictor_oneof")
  if kind != "mask_rcnn_box_predictor":
    problems.add(path, f"unsupported box predictor (got {kind}; expected "
                 "mask_rcnn_box_predictor)")
    return
  bp = config.second_stage_box_predictor.mask_rcnn_box_predictor
  path = f"{path}.mask_rcnn_box_predictor"
  args.box_head = dict(
      share_box_across_classes=bp.share_box_across_classes, use_dropout=bp.use_dropout,
      dropout_keep_probability=bp.dropout_keep_probability, box_code_size=bp.box_code_size,
      hyperparams=_collect(problems, hyperparams_builder.build, bp.fc_hyperparams,
                           f"{path}.fc_hyperparams", default=box_head_lib.DEFAULT_HYPERPARAMS))
  args.mask_head = _mask_head_args(bp, config.num_classes, problems, path)
  nms = _collect(problems, _second_stage_nms, config, root) or (None, None)
  args.roi_heads = dict(
      number_of_stages=config.number_of_stages, crop_size=config.initial_crop_size,
      maxpool_kernel_size=max(config.maxpool_kernel_size, 1),
      maxpool_stride=max(config.maxpool_stride, 1),
      batch_size=config.second_stage_batch_size,
      positive_fraction=config.second_stage_balance_fraction,
      nms=nms[0], score_fn=nms[1],
      classification_loss_fn=_collect(problems, _classification_loss, config, root),
      localization_loss_weight=config.second_stage_localization_loss_weight,
      classification_loss_weight=config.second_stage_classification_loss_weight,
      mask_loss_weight=config.second_stage_mask_prediction_loss_weight,
      use_gt_boxes_for_masks=config.use_gt_boxes_for_masks,
      allowed_masked_classes_ids=tuple(config.allowed_masked_classes_ids))
  _add_all(problems, root, roi_heads.argument_problems(
      config.num_classes, has_mask_head=bool(bp.predict_instance_masks),
      number_of_stages=config.number_of_stages, crop_size=config.initial_crop_size,
      allowed_masked_classes_ids=config.allowed_masked_classes_ids))


def _translate(config, problems, root):
  """Every check of the message, in config order; returns its _Args (nothing is built)."""
  _check_unsupported(config, problems, root)
  problems.positive(config, "num_classes", root)
  stages = config.number_of_stages
  if stages not in (1, 2, 3):
    problems.add(f"{root}.number_of_stages", f"unsupported (got {stages}; expected 1, 2 or 3)")
  args = _Args(num_classes=config.num_classes,
               mask_supervised_class_ids=tuple(config.allowed_masked_classes_ids))
  args.resizer = image_resizer_builder.translate(config.image_resizer, problems,
                                                 f"{root}.image_resizer")
  args.extractor = _extractor_args(config, problems, root)
  args.anchors = _collect(problems, _anchor_params, config, _feature_strides(config), root)
  args.rpn_head, args.proposal_generator = _rpn_args(config, problems, root)
  if stages in (2, 3):
    _roi_heads_args(config, args, problems, root)
  return args


def check(faster_rcnn_config, problems, path=FIELD):
  """Adds every problem of a FasterRcnn message to `problems` (nothing is built)."""
  _translate(faster_rcnn_config, problems, path)


def build(faster_rcnn_config, is_training, path=FIELD):
  """Builds the model.

  Args:
    faster_rcnn_config: faster_rcnn_pb2.FasterRcnn.
    is_training: bool.
    path: the message's config path.
  Returns:
    FasterRCNNMetaArch.
  Raises:
    ConfigError: listing every invalid or unsupported setting, with its field path.
  """
  problems = Problems()
  args = _translate(faster_rcnn_config, problems, path)
  problems.raise_if_any()
  rpn_head = rpn.RPNHead(args.anchors.num_anchors_per_location, **args.rpn_head)
  generator = proposal_generator.ProposalGenerator(rpn_head, args.anchors,
                                                   **args.proposal_generator)
  heads = None
  if args.roi_heads is not None:
    mask_head = None
    if args.mask_head is not None:
      factory, params = args.mask_head
      mask_head = factory(params)
    heads = roi_heads.RoIHeads(args.num_classes, box_head_lib.BoxHead(args.num_classes,
                                                                      **args.box_head),
                               mask_head, **args.roi_heads)
  factory, params = args.extractor
  extractor = factory(params, is_training)  # the expensive part: last
  return meta_arch.FasterRCNNMetaArch(
      args.num_classes, args.resizer, extractor, generator, heads,
      mask_supervised_class_ids=args.mask_supervised_class_ids)
