"""`build(faster_rcnn_config, is_training)`: a FasterRCNNMetaArch from a `FasterRcnn` message.

The adapter between faster_rcnn.proto / box_predictor.proto and the components: only this
module reads those messages. It builds the feature extractor, the ProposalGenerator (RPN head,
anchors) and the RoIHeads (box head, mask head) with plain keyword arguments. Components name
the config field in their errors (`initial_crop_size: must be ...`); this module prefixes the
path (`model.faster_rcnn.initial_crop_size: ...`). Unsupported options are rejected with the
field path instead of being ignored.
"""

import logging

import tensorflow as tf

from object_detection.builders import hyperparams_builder
from object_detection.builders import image_resizer_builder
from object_detection.builders import losses_builder
from object_detection.builders import post_processing_builder
from object_detection.core import registries
from object_detection.core.errors import ConfigError
from object_detection.meta_architectures.faster_rcnn import box_head as box_head_lib
from object_detection.meta_architectures.faster_rcnn import mask_heads
from object_detection.meta_architectures.faster_rcnn import meta_arch
from object_detection.meta_architectures.faster_rcnn import postprocess
from object_detection.meta_architectures.faster_rcnn import proposal_generator
from object_detection.meta_architectures.faster_rcnn import roi_heads
from object_detection.meta_architectures.faster_rcnn import rpn
from object_detection.models import faster_rcnn_extractors
from object_detection.ops import anchors as anchors_lib

_ROOT = "model.faster_rcnn"
_LOG = logging.getLogger(__name__)


def _config_error(path, error):
  """A component's ValueError ("<field>: <problem> ...") as a ConfigError under `path`."""
  return ConfigError(f"{path}.{error}")


def _feature_extractor(config, is_training):
  fe = config.feature_extractor
  path = f"{_ROOT}.feature_extractor"
  factory = registries.FASTER_RCNN_FEATURE_EXTRACTORS.get(fe.type, field_path=f"{path}.type")
  params = faster_rcnn_extractors.ExtractorParams(
      first_stage_features_stride=fe.first_stage_features_stride,
      batch_norm_trainable=fe.batch_norm_trainable)
  if fe.HasField("fpn"):
    params = faster_rcnn_extractors.ExtractorParams(
        first_stage_features_stride=fe.first_stage_features_stride,
        batch_norm_trainable=fe.batch_norm_trainable, fpn_min_level=fe.fpn.min_level,
        fpn_max_level=fe.fpn.max_level, fpn_additional_layer_depth=fe.fpn.additional_layer_depth)
  elif fe.type.endswith("_fpn_keras"):
    raise ConfigError(f"{path}.fpn: {fe.type} needs an fpn message (got none; expected "
                      "fpn { min_level: 2 max_level: 6 })")
  try:
    return factory(params, is_training)
  except ValueError as e:
    raise _config_error(path, e) from e


def _feature_strides(config):
  """Strides of the proposal feature maps the extractor will produce (without building it)."""
  fe = config.feature_extractor
  if fe.HasField("fpn"):
    return tuple(2 ** l for l in range(fe.fpn.min_level, fe.fpn.max_level + 1))
  return (fe.first_stage_features_stride,)


def _anchor_params(config, strides):
  message = config.first_stage_anchor_generator
  path = f"{_ROOT}.first_stage_anchor_generator"
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


def _mask_head(box_predictor, num_classes, path, on_proposals):
  """The mask head, or None; `on_proposals`: it is trained on sampled proposals (not GT
  boxes)."""
  if box_predictor.predict_keypoints:
    raise ConfigError(f"{path}.predict_keypoints: keypoints are not supported (got true; "
                      "expected false)")
  if not box_predictor.predict_instance_masks:
    return None
  params = mask_heads.MaskHeadParams(
      num_classes=num_classes, mask_height=box_predictor.mask_height,
      mask_width=box_predictor.mask_width,
      num_conv_layers=box_predictor.mask_prediction_num_conv_layers,
      conv_depth=box_predictor.mask_prediction_conv_depth,
      class_agnostic=box_predictor.masks_are_class_agnostic,
      convolve_then_upsample=box_predictor.convolve_then_upsample_masks,
      hyperparams=hyperparams_builder.build(box_predictor.conv_hyperparams,
                                            f"{path}.conv_hyperparams",
                                            default=mask_heads.DEFAULT_HYPERPARAMS),
      upsample_factor=box_predictor.mask_head_upsample_factor,
      num_filters=box_predictor.mask_head_num_filters)
  factory = registries.MASK_RCNN_MASK_HEADS.get(
      box_predictor.mask_head_network_type, field_path=f"{path}.mask_head_network_type")
  bn = params.hyperparams.batch_norm
  default_head = box_predictor.mask_head_network_type == "default"
  if on_proposals and default_head and bn is not None and bn.train:
    _LOG.warning(
        "%s.conv_hyperparams: the mask head's batch norm is trained on the positive sampled "
        "RoIs only (floor(second_stage_batch_size * second_stage_balance_fraction) per image), "
        "not on every sampled RoI as in the original (got batch_norm with train: true; "
        "docs/DEVIATIONS.md)", path)
  try:
    return factory(params)
  except ValueError as e:
    raise _config_error(path, e) from e


def _classification_loss(config):
  path = f"{_ROOT}.second_stage_classification_loss"
  fn = losses_builder.build_faster_rcnn_classification_loss(
      config.second_stage_classification_loss, field_path=path)

  def loss(logits, onehot):
    per = fn(logits, onehot, tf.ones_like(logits[..., :1]))
    return tf.reduce_sum(per, axis=-1) if len(per.shape) == len(logits.shape) else per
  return loss


def _check_unsupported(config):
  checks = [
      (config.HasField("hard_example_miner"), "hard_example_miner",
       "online hard example mining is not implemented"),
      (config.HasField("context_config"), "context_config", "Context R-CNN is not implemented"),
      (config.output_final_box_features or config.output_final_box_rpn_features,
       "output_final_box_features", "box feature outputs are not implemented"),
  ]
  for bad, field, why in checks:
    if bad:
      raise ConfigError(f"{_ROOT}.{field}: {why} (got it set; expected it unset)")


def _proposal_generator(config, anchor_params):
  rpn_head = rpn.RPNHead(
      anchor_params.num_anchors_per_location, depth=config.first_stage_box_predictor_depth,
      kernel_size=config.first_stage_box_predictor_kernel_size,
      atrous_rate=config.first_stage_atrous_rate,
      hyperparams=hyperparams_builder.build(
          config.first_stage_box_predictor_conv_hyperparams,
          f"{_ROOT}.first_stage_box_predictor_conv_hyperparams",
          default=rpn.DEFAULT_HYPERPARAMS))
  try:
    return proposal_generator.ProposalGenerator(
        rpn_head, anchor_params,
        clip_anchors_to_image=config.clip_anchors_to_image,
        minibatch_size=config.first_stage_minibatch_size,
        positive_fraction=config.first_stage_positive_balance_fraction,
        nms_score_threshold=config.first_stage_nms_score_threshold,
        nms_iou_threshold=config.first_stage_nms_iou_threshold,
        max_proposals=config.first_stage_max_proposals,
        localization_loss_weight=config.first_stage_localization_loss_weight,
        objectness_loss_weight=config.first_stage_objectness_loss_weight)
  except ValueError as e:
    raise _config_error(_ROOT, e) from e


def _second_stage_nms(config):
  path = f"{_ROOT}.second_stage_post_processing"
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


def _roi_heads(config):
  """RoIHeads of a 2- or 3-stage model (the box predictor must be mask_rcnn_box_predictor)."""
  path = f"{_ROOT}.second_stage_box_predictor"
  kind = config.second_stage_box_predictor.WhichOneof("box_predictor_oneof")
  if kind != "mask_rcnn_box_predictor":
    raise ConfigError(f"{path}: unsupported box predictor (got {kind}; expected "
                      "mask_rcnn_box_predictor)")
  bp = config.second_stage_box_predictor.mask_rcnn_box_predictor
  path = f"{path}.mask_rcnn_box_predictor"
  box_head = box_head_lib.BoxHead(
      config.num_classes, share_box_across_classes=bp.share_box_across_classes,
      use_dropout=bp.use_dropout, dropout_keep_probability=bp.dropout_keep_probability,
      box_code_size=bp.box_code_size,
      hyperparams=hyperparams_builder.build(bp.fc_hyperparams, f"{path}.fc_hyperparams",
                                            default=box_head_lib.DEFAULT_HYPERPARAMS))
  nms, score_fn = _second_stage_nms(config)
  try:
    return roi_heads.RoIHeads(
        config.num_classes, box_head, _mask_head(bp, config.num_classes, path,
                                                      not config.use_gt_boxes_for_masks),
        number_of_stages=config.number_of_stages,
        crop_size=config.initial_crop_size,
        maxpool_kernel_size=max(config.maxpool_kernel_size, 1),
        maxpool_stride=max(config.maxpool_stride, 1),
        batch_size=config.second_stage_batch_size,
        positive_fraction=config.second_stage_balance_fraction,
        nms=nms, score_fn=score_fn, classification_loss_fn=_classification_loss(config),
        localization_loss_weight=config.second_stage_localization_loss_weight,
        classification_loss_weight=config.second_stage_classification_loss_weight,
        mask_loss_weight=config.second_stage_mask_prediction_loss_weight,
        use_gt_boxes_for_masks=config.use_gt_boxes_for_masks,
        allowed_masked_classes_ids=tuple(config.allowed_masked_classes_ids))
  except ValueError as e:
    raise _config_error(_ROOT, e) from e


def build(faster_rcnn_config, is_training):
  """Builds the model.

  Args:
    faster_rcnn_config: faster_rcnn_pb2.FasterRcnn.
    is_training: bool.
  Returns:
    FasterRCNNMetaArch.
  Raises:
    ConfigError: invalid or unsupported settings, with their field path.
  """
  config = faster_rcnn_config
  _check_unsupported(config)
  if config.num_classes < 1:
    raise ConfigError(f"{_ROOT}.num_classes: must be positive (got {config.num_classes}; "
                      "expected >= 1)")
  stages = config.number_of_stages
  if stages not in (1, 2, 3):
    raise ConfigError(f"{_ROOT}.number_of_stages: unsupported (got {stages}; expected 1, 2 or 3)")
  resizer = image_resizer_builder.build(config.image_resizer, field_path=f"{_ROOT}.image_resizer")
  registries.FASTER_RCNN_FEATURE_EXTRACTORS.get(
      config.feature_extractor.type, field_path=f"{_ROOT}.feature_extractor.type")
  anchor_params = _anchor_params(config, _feature_strides(config))
  generator = _proposal_generator(config, anchor_params)
  heads = _roi_heads(config) if stages > 1 else None
  extractor = _feature_extractor(config, is_training)  # the expensive part: last
  return meta_arch.FasterRCNNMetaArch(config.num_classes, resizer, extractor, generator, heads)
