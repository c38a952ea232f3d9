"""Load-time warnings: the config trains or predicts differently from the original, on purpose.

Each entry of DEVIATIONS names a difference listed in docs/DEVIATIONS.md (by its id), the
condition under which a config is affected, and what changes. `warn_about(pipeline)` logs one
warning per affected entry (once per process and entry, so a long run is not flooded) and returns
the ids, for tests. Deviations that change nothing a real config does (a crash of the original
that works here, an API difference) are listed in DEVIATIONS.md only.
"""

import dataclasses
import logging

_LOG = logging.getLogger(__name__)
_WARNED = set()


@dataclasses.dataclass(frozen=True)
class Deviation:
  """id: DEVIATIONS.md anchor (D1, ...); applies: fn(pipeline) -> bool; message: what differs."""
  id: str
  applies: object
  message: str


def _center_net(pipeline):
  return pipeline.model.center_net if pipeline.model.WhichOneof("model") == "center_net" \
      else None


def _pads_images(resizer):
  kind = resizer.WhichOneof("image_resizer_oneof")
  if kind == "keep_aspect_ratio_resizer":
    return resizer.keep_aspect_ratio_resizer.pad_to_max_dimension
  return kind == "pad_to_multiple_resizer"


def _padding_peaks(pipeline):
  center_net = _center_net(pipeline)
  return center_net is not None and _pads_images(center_net.image_resizer)


def _deepmac_padding(pipeline):
  return _padding_peaks(pipeline) and _deepmac(pipeline) is not None


def _deepmac(pipeline):
  center_net = _center_net(pipeline)
  if center_net is None or not center_net.HasField("deepmac_mask_estimation"):
    return None
  return center_net.deepmac_mask_estimation


def _crop_mode_loss(field):
  def applies(pipeline):
    deepmac = _deepmac(pipeline)
    return (deepmac is not None and not deepmac.predict_full_resolution_masks
            and getattr(deepmac, field) > 0.0)
  return applies


def _full_resolution_masks(pipeline):
  deepmac = _deepmac(pipeline)
  return deepmac is not None and deepmac.predict_full_resolution_masks


def _exports_averages(pipeline):
  return (pipeline.HasField("train_config")
          and pipeline.train_config.optimizer.use_moving_average)


def _faster_rcnn(pipeline):
  return pipeline.model.faster_rcnn if pipeline.model.WhichOneof("model") == "faster_rcnn" \
      else None


def _mask_head_batch_norm_on_sampled_rois(pipeline):
  """The default Mask R-CNN head with trained batch norm, trained on sampled proposals."""
  rcnn = _faster_rcnn(pipeline)
  if rcnn is None or rcnn.number_of_stages < 2 or rcnn.use_gt_boxes_for_masks:
    return False
  predictor = rcnn.second_stage_box_predictor
  if predictor.WhichOneof("box_predictor_oneof") != "mask_rcnn_box_predictor":
    return False
  box = predictor.mask_rcnn_box_predictor
  norm = box.conv_hyperparams.WhichOneof("normalizer_oneof")
  return (box.predict_instance_masks and box.mask_head_network_type == "default" and
          norm in ("batch_norm", "sync_batch_norm") and
          getattr(box.conv_hyperparams, norm).train)


def _rcnn_proposals(pipeline):
  return _faster_rcnn(pipeline) is not None


def _separable_fpn_by_name_only(pipeline):
  center_net = _center_net(pipeline)
  return (center_net is not None
          and center_net.feature_extractor.type == "mobilenet_v2_fpn_sep_conv"
          and not center_net.feature_extractor.HasField("use_separable_conv"))


def _deepmac_use_depthwise(pipeline):
  return _deepmac(pipeline) is not None and pipeline.model.center_net.use_depthwise


DEVIATIONS = (
    Deviation(
        "D1", _padding_peaks,
        "model.center_net.image_resizer pads non-square images: CenterNet detections are taken "
        "only from output cells inside the true image here, while the original also reports "
        "peaks that fall in the padding (its valid-region test compares output cells with the "
        "image size in input pixels), so detections on non-square images differ"),
    Deviation(
        "D2", _crop_mode_loss("box_consistency_loss_weight"),
        "model.center_net.deepmac_mask_estimation.box_consistency_loss_weight with RoI crops: "
        "the box-consistency projections are taken on the mask crop here; the original crops "
        "the already-cropped logits a second time with the box, so training differs"),
    Deviation(
        "D3", _crop_mode_loss("color_consistency_loss_weight"),
        "model.center_net.deepmac_mask_estimation.color_consistency_loss_weight with RoI crops: "
        "the colour-consistency loss is computed on the crops here; the original returns 0 for "
        "it unless predict_full_resolution_masks, so training differs"),
    Deviation(
        "D4", _exports_averages,
        "train_config.optimizer.use_moving_average: exporter_main_v2 exports the moving-average "
        "weights (the ones eval reports) when the checkpoint holds them; the original exports "
        "the raw weights"),
    Deviation(
        "D5", _deepmac_padding,
        "DeepMAC masks on padded inputs: a detection box that reaches into the padding is "
        "cropped at the reported box (clipped to the true image) here; the original crops at "
        "the box clipped to the padded map and reports the mask in the frame of the clipped box, "
        "so such masks differ"),
    Deviation(
        "D6", _full_resolution_masks,
        "model.center_net.deepmac_mask_estimation.predict_full_resolution_masks: output masks "
        "are the mask logits upsampled x stride to (height, width) and cropped at the box here; "
        "the original upsamples them to (number of instances x stride, width x stride), taking "
        "the instance count for the height, so its output masks differ (training is the same)"),
    Deviation(
        "D7", _mask_head_batch_norm_on_sampled_rois,
        "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor.conv_hyperparams: "
        "the mask head's batch norm is trained on the positive sampled RoIs only "
        "(floor(second_stage_batch_size * second_stage_balance_fraction) per image) here, on "
        "every sampled RoI in the original, so its batch statistics differ"),
    Deviation(
        "D8", _rcnn_proposals,
        "model.faster_rcnn: only the 6000 best-scoring RPN boxes per image enter the "
        "first-stage NMS here, every anchor in the original, so proposals differ when the NMS "
        "would have had to reach past them to fill first_stage_max_proposals"),
    Deviation(
        "D9", _separable_fpn_by_name_only,
        "model.center_net.feature_extractor.type: mobilenet_v2_fpn_sep_conv builds separable "
        "FPN convolutions here (as its name and the zoo's checkpoint); the original 2.8 builds "
        "plain ones unless use_separable_conv is set. Set "
        "model.center_net.feature_extractor.use_separable_conv: true to say so and silence this "
        "warning"),
    Deviation(
        "D10", _deepmac_use_depthwise,
        "model.center_net.use_depthwise: the object center and box heads of this DeepMAC model "
        "are separable here; the original's DeepMAC builder ignores use_depthwise (plain "
        "convolutions), so its checkpoints do not fit this model"),
)


def warn_about(pipeline, source=None):
  """Logs a warning for each deviation that affects `pipeline`; returns their ids."""
  ids = []
  for deviation in DEVIATIONS:
    if not deviation.applies(pipeline):
      continue
    ids.append(deviation.id)
    if deviation.id not in _WARNED:
      _WARNED.add(deviation.id)
      _LOG.warning("%s%s: %s (docs/DEVIATIONS.md#%s)", f"{source}: " if source else "",
                   deviation.id, deviation.message, deviation.id.lower())
  return ids
