"""Builds a CenterNet model from a `center_net_pb2.CenterNet` message (`model.center_net`).

    model = center_net_builder.build(pipeline.model.center_net, is_training=True)

With `deepmac_mask_estimation` set, building is delegated to `deepmac_builder.build`, which
composes `build_feature_extractor` and `build_detection_tasks` with its mask task.
"""

import functools

from object_detection.builders import image_resizer_builder
from object_detection.core.errors import ConfigError
from object_detection.core.registries import CENTER_NET_FEATURE_EXTRACTORS
from object_detection.losses import center_net as center_net_losses
from object_detection.meta_architectures.center_net import box_task
from object_detection.meta_architectures.center_net import meta_arch
from object_detection.meta_architectures.center_net import object_center_task
from object_detection.models import center_net_extractors

FIELD = "model.center_net"
# Number of backbone outputs (= head sets) per extractor type, known without building it.
_TWO_STACK_EXTRACTORS = ("hourglass_104",)


def feature_extractor_params(center_net_config):
  """The CenterNetFeatureExtractor message as a FeatureExtractorParams (empty means/stds ->
  the defaults 0 and 1)."""
  fe = center_net_config.feature_extractor
  return center_net_extractors.FeatureExtractorParams(
      type=fe.type,
      channel_means=tuple(fe.channel_means) or (0.0, 0.0, 0.0),
      channel_stds=tuple(fe.channel_stds) or (1.0, 1.0, 1.0),
      bgr_ordering=fe.bgr_ordering, use_depthwise=fe.use_depthwise,
      depth_multiplier=fe.depth_multiplier, use_separable_conv=fe.use_separable_conv,
      upsampling_interpolation=fe.upsampling_interpolation)


def build_feature_extractor(center_net_config, is_training):
  """Returns the registered feature extractor layer; unknown types raise ConfigError."""
  params = feature_extractor_params(center_net_config)
  field = f"{FIELD}.feature_extractor"
  for name, values in (("channel_means", params.channel_means),
                       ("channel_stds", params.channel_stds)):
    if len(values) != 3:
      raise ConfigError(f"{field}.{name}: needs 3 values (got {list(values)}; expected 3)")
  if any(s == 0.0 for s in params.channel_stds):
    raise ConfigError(f"{field}.channel_stds: zero standard deviation "
                      f"(got {list(params.channel_stds)}; expected nonzero values)")
  factory = CENTER_NET_FEATURE_EXTRACTORS.get(params.type, field_path=f"{field}.type")
  return factory(params, is_training)


def _head_params(message, has_field, field):
  """(kernel_sizes, num_filters) of a PredictionHeadParams, default ((3,), (256,))."""
  if not has_field:
    return (3,), (256,)
  kernel_sizes, num_filters = tuple(message.kernel_sizes), tuple(message.num_filters)
  if not kernel_sizes and not num_filters:
    return (3,), (256,)
  if len(kernel_sizes) != len(num_filters):
    raise ConfigError(f"{field}: kernel_sizes and num_filters differ in length "
                      f"(got {list(kernel_sizes)} and {list(num_filters)}; expected equal)")
  return kernel_sizes, num_filters


def _classification_loss(loss_message, field):
  name = loss_message.WhichOneof("classification_loss")
  if name is None:  # the original's default for the object centre task
    return functools.partial(center_net_losses.penalty_reduced_logistic_focal_loss,
                             alpha=2.0, beta=4.0)
  if name != "penalty_reduced_logistic_focal_loss":
    raise ConfigError(f"{field}: classification loss not supported for CenterNet centres "
                      f"(got {name!r}; expected 'penalty_reduced_logistic_focal_loss')")
  focal = loss_message.penalty_reduced_logistic_focal_loss
  return functools.partial(center_net_losses.penalty_reduced_logistic_focal_loss,
                           alpha=focal.alpha, beta=focal.beta)


def _localization_loss(loss_message, field):
  name = loss_message.WhichOneof("localization_loss")
  if name not in (None, "l1_localization_loss"):
    raise ConfigError(f"{field}: localization loss not supported for CenterNet boxes "
                      f"(got {name!r}; expected 'l1_localization_loss')")
  return center_net_losses.l1


def num_feature_outputs(center_net_config):
  """Backbone outputs of the configured extractor (2 for hourglass_104, else 1)."""
  return 2 if center_net_config.feature_extractor.type in _TWO_STACK_EXTRACTORS else 1


_UNSUPPORTED_TASKS = ("mask_estimation_task", "densepose_estimation_task",
                      "track_estimation_task", "temporal_offset_task")


def _check_unsupported_tasks(center_net_config):
  """Keypoint / semantic-mask / DensePose / tracking tasks are parsed but not built: refuse them
  rather than silently training a model without them."""
  names = [n for n in _UNSUPPORTED_TASKS if center_net_config.HasField(n)]
  if len(center_net_config.keypoint_estimation_task):
    names.insert(0, "keypoint_estimation_task")
  if names:
    raise ConfigError(
        f"{FIELD}.{names[0]}: task not supported by this package (got {', '.join(names)}; "
        "expected only object_center_params, object_detection_task and "
        "deepmac_mask_estimation)")


def build_detection_tasks(center_net_config, is_training, num_outputs=None):
  """[ObjectCenterTask, BoxTask] (BoxTask only when object_detection_task is set).

  Args:
    center_net_config: center_net_pb2.CenterNet.
    is_training: bool (unused: the tasks take `training` per call).
    num_outputs: int, backbone outputs; default from the extractor type.
  """
  del is_training
  _check_unsupported_tasks(center_net_config)
  if num_outputs is None:
    num_outputs = num_feature_outputs(center_net_config)
  if not center_net_config.HasField("object_center_params"):
    raise ConfigError(f"{FIELD}.object_center_params: not set (expected the object centre "
                      "task; CenterNet without it is not supported)")
  if center_net_config.num_classes <= 0:
    raise ConfigError(f"{FIELD}.num_classes: must be positive "
                      f"(got {center_net_config.num_classes}; expected >= 1)")
  oc = center_net_config.object_center_params
  oc_field = f"{FIELD}.object_center_params"
  if oc.use_labeled_classes or len(oc.keypoint_weights_for_center):
    raise ConfigError(f"{oc_field}: use_labeled_classes / keypoint_weights_for_center are not "
                      "supported (got them set; expected unset)")
  kernel_sizes, num_filters = _head_params(
      oc.center_head_params, oc.HasField("center_head_params"), f"{oc_field}.center_head_params")
  use_depthwise = center_net_config.use_depthwise
  center = object_center_task.ObjectCenterTask(
      center_net_config.num_classes, num_outputs,
      object_center_task.ObjectCenterParams(
          object_center_loss_weight=oc.object_center_loss_weight,
          heatmap_bias_init=oc.heatmap_bias_init, min_box_overlap_iou=oc.min_box_overlap_iou,
          max_box_predictions=oc.max_box_predictions,
          peak_max_pool_kernel_size=oc.peak_max_pool_kernel_size,
          kernel_sizes=kernel_sizes, num_filters=num_filters, use_depthwise=use_depthwise),
      classification_loss=_classification_loss(oc.classification_loss,
                                               f"{oc_field}.classification_loss"))
  tasks = [center]
  if center_net_config.HasField("object_detection_task"):
    od = center_net_config.object_detection_task
    od_field = f"{FIELD}.object_detection_task"
    scale_k, scale_f = _head_params(od.scale_head_params, od.HasField("scale_head_params"),
                                    f"{od_field}.scale_head_params")
    offset_k, offset_f = _head_params(od.offset_head_params, od.HasField("offset_head_params"),
                                      f"{od_field}.offset_head_params")
    tasks.append(box_task.BoxTask(
        num_outputs,
        box_task.BoxParams(
            task_loss_weight=od.task_loss_weight, scale_loss_weight=od.scale_loss_weight,
            offset_loss_weight=od.offset_loss_weight, scale_kernel_sizes=scale_k,
            scale_num_filters=scale_f, offset_kernel_sizes=offset_k,
            offset_num_filters=offset_f, use_depthwise=use_depthwise),
        localization_loss=_localization_loss(od.localization_loss,
                                             f"{od_field}.localization_loss")))
  return tasks


def build(center_net_config, is_training):
  """Returns a CenterNetMetaArch (or DeepMACMetaArch when deepmac_mask_estimation is set)."""
  if center_net_config.HasField("deepmac_mask_estimation"):
    from object_detection.builders import deepmac_builder  # pylint: disable=import-outside-toplevel
    return deepmac_builder.build(center_net_config, is_training)
  if center_net_config.HasField("post_processing"):
    # The original applies batch NMS after peak extraction only when this is set (P2 here).
    raise ConfigError(f"{FIELD}.post_processing: NMS after CenterNet decoding is not "
                      "supported (got it set; expected it unset: max-pool peak extraction is "
                      "CenterNet's NMS)")
  extractor = build_feature_extractor(center_net_config, is_training)
  tasks = build_detection_tasks(center_net_config, is_training,
                                num_outputs=extractor.num_feature_outputs)
  resizer = image_resizer_builder.build(center_net_config.image_resizer,
                                        field_path=f"{FIELD}.image_resizer")
  return meta_arch.CenterNetMetaArch(center_net_config.num_classes, extractor, resizer, tasks)
