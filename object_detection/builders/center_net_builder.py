"""The adapter of `center_net_pb2.CenterNet` (`model.center_net`): checks the message and builds
a CenterNetMetaArch, or a DeepMACMetaArch when `deepmac_mask_estimation` is set.

    model = center_net_builder.build(pipeline.model.center_net, is_training=True)
    center_net_builder.check(center_net_config, problems)    # load-time validation, builds nothing

`check` runs the same checks as `build` (this module's, image_resizer_builder's and
deepmac_builder's) and collects every problem; `build` raises them all before building. The
extractor is built first: its number of outputs sets the number of head sets of every task.
"""

import functools

from object_detection.builders import deepmac_builder
from object_detection.builders import image_resizer_builder
from object_detection.core.problems import Problems, short_float as _g
from object_detection.core.registries import CENTER_NET_FEATURE_EXTRACTORS
from object_detection.losses import center_net as center_net_losses
from object_detection.meta_architectures.center_net import box_task
from object_detection.meta_architectures.center_net import meta_arch
from object_detection.meta_architectures.center_net import object_center_task
from object_detection.meta_architectures.deepmac import meta_arch as deepmac_meta_arch
from object_detection.models import center_net_extractors
from object_detection.models import center_net_mobilenet_v2  # (also registers its extractors)
from object_detection.models import center_net_resnet_v2  # noqa: F401  (registers extractors)

FIELD = "model.center_net"


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


def _check_feature_extractor(center_net_config, problems, path):
  field = f"{path}.feature_extractor"
  if not center_net_config.HasField("feature_extractor"):
    problems.add(field, "missing (got nothing; expected a block with type)")
    return
  extractor = center_net_config.feature_extractor
  problems.registered(CENTER_NET_FEATURE_EXTRACTORS, extractor.type, f"{field}.type")
  for name in ("channel_means", "channel_stds"):
    values = list(getattr(extractor, name))
    if values and len(values) != 3:
      problems.add(f"{field}.{name}",
                   f"wrong length (got {len(values)} values; expected 3, one per RGB channel)")
  if any(s <= 0 for s in extractor.channel_stds):
    problems.add(f"{field}.channel_stds", "must be positive (got "
                 f"{list(extractor.channel_stds)}; expected values > 0)")
  if extractor.depth_multiplier <= 0:
    problems.add(f"{field}.depth_multiplier", "must be positive (got "
                 f"{_g(extractor.depth_multiplier)}; expected a width multiplier > 0, e.g. 1.0)")
  if extractor.upsampling_interpolation not in center_net_mobilenet_v2.INTERPOLATIONS:
    problems.add(f"{field}.upsampling_interpolation", "unknown interpolation (got "
                 f"{extractor.upsampling_interpolation!r}; expected one of: "
                 f"{', '.join(center_net_mobilenet_v2.INTERPOLATIONS)})")


def build_feature_extractor(center_net_config, is_training, path=FIELD):
  """Returns the registered feature extractor layer; a bad message raises ConfigError."""
  problems = Problems()
  _check_feature_extractor(center_net_config, problems, path)
  problems.raise_if_any()
  params = feature_extractor_params(center_net_config)
  factory = CENTER_NET_FEATURE_EXTRACTORS.get(params.type,
                                              field_path=f"{path}.feature_extractor.type")
  return factory(params, is_training)


def _head_params(message, has_field, problems, field):
  """(kernel_sizes, num_filters) of a PredictionHeadParams, default ((3,), (256,))."""
  if not has_field:
    return (3,), (256,)
  kernel_sizes, num_filters = tuple(message.kernel_sizes), tuple(message.num_filters)
  if not kernel_sizes and not num_filters:
    return (3,), (256,)
  if len(kernel_sizes) != len(num_filters):
    problems.add(field, "kernel_sizes and num_filters differ in length (got "
                 f"{list(kernel_sizes)} and {list(num_filters)}; expected equal)")
  return kernel_sizes, num_filters


def _classification_loss(loss_message, problems, field):
  name = loss_message.WhichOneof("classification_loss")
  if name is None:  # the original's default for the object centre task
    return functools.partial(center_net_losses.penalty_reduced_logistic_focal_loss,
                             alpha=2.0, beta=4.0)
  if name != "penalty_reduced_logistic_focal_loss":
    problems.add(field, "classification loss not supported for CenterNet centres "
                 f"(got {name!r}; expected 'penalty_reduced_logistic_focal_loss')")
    return None
  focal = loss_message.penalty_reduced_logistic_focal_loss
  return functools.partial(center_net_losses.penalty_reduced_logistic_focal_loss,
                           alpha=focal.alpha, beta=focal.beta)


def _localization_loss(loss_message, problems, field):
  name = loss_message.WhichOneof("localization_loss")
  if name not in (None, "l1_localization_loss"):
    problems.add(field, "localization loss not supported for CenterNet boxes "
                 f"(got {name!r}; expected 'l1_localization_loss')")
  return center_net_losses.l1


_UNSUPPORTED_TASKS = ("mask_estimation_task", "densepose_estimation_task",
                      "track_estimation_task", "temporal_offset_task")


def _check_unsupported(center_net_config, problems, path):
  """Keypoint / semantic-mask / DensePose / tracking tasks are parsed but not built: refuse them
  rather than silently training a model without them; the same for NMS after decoding."""
  names = [n for n in _UNSUPPORTED_TASKS if center_net_config.HasField(n)]
  if len(center_net_config.keypoint_estimation_task):
    names.insert(0, "keypoint_estimation_task")
  if names:
    problems.add(f"{path}.{names[0]}", f"task not supported by this package (got "
                 f"{', '.join(names)}; expected only object_center_params, "
                 "object_detection_task and deepmac_mask_estimation)")
  if center_net_config.HasField("post_processing"):
    # The original applies batch NMS after peak extraction only when this is set (P2 here).
    problems.add(f"{path}.post_processing", "NMS after CenterNet decoding is not supported "
                 "(got it set; expected it unset: max-pool peak extraction is CenterNet's NMS)")


def _center_args(center_net_config, problems, path):
  """ObjectCenterTask keyword arguments (besides num_classes / num_feature_outputs), or None."""
  oc_field = f"{path}.object_center_params"
  if not center_net_config.HasField("object_center_params"):
    problems.add(oc_field, "not set (expected the object centre task; CenterNet without it is "
                 "not supported)")
    return None
  oc = center_net_config.object_center_params
  problems.positive(oc, "max_box_predictions", oc_field)
  problems.positive(oc, "peak_max_pool_kernel_size", oc_field)
  if not 0 < oc.min_box_overlap_iou <= 1:
    problems.add(f"{oc_field}.min_box_overlap_iou",
                 f"out of range (got {_g(oc.min_box_overlap_iou)}; expected in (0, 1])")
  if oc.use_labeled_classes or len(oc.keypoint_weights_for_center):
    problems.add(oc_field, "use_labeled_classes / keypoint_weights_for_center are not "
                 "supported (got them set; expected unset)")
  kernel_sizes, num_filters = _head_params(
      oc.center_head_params, oc.HasField("center_head_params"), problems,
      f"{oc_field}.center_head_params")
  return dict(
      params=object_center_task.ObjectCenterParams(
          object_center_loss_weight=oc.object_center_loss_weight,
          heatmap_bias_init=oc.heatmap_bias_init, min_box_overlap_iou=oc.min_box_overlap_iou,
          max_box_predictions=oc.max_box_predictions,
          peak_max_pool_kernel_size=oc.peak_max_pool_kernel_size,
          kernel_sizes=kernel_sizes, num_filters=num_filters,
          use_depthwise=center_net_config.use_depthwise),
      classification_loss=_classification_loss(oc.classification_loss, problems,
                                               f"{oc_field}.classification_loss"))


def _box_args(center_net_config, problems, path):
  """BoxTask keyword arguments (besides num_feature_outputs), or None without a box task."""
  if not center_net_config.HasField("object_detection_task"):
    return None
  od = center_net_config.object_detection_task
  od_field = f"{path}.object_detection_task"
  scale_k, scale_f = _head_params(od.scale_head_params, od.HasField("scale_head_params"),
                                  problems, f"{od_field}.scale_head_params")
  offset_k, offset_f = _head_params(od.offset_head_params, od.HasField("offset_head_params"),
                                    problems, f"{od_field}.offset_head_params")
  return dict(
      params=box_task.BoxParams(
          task_loss_weight=od.task_loss_weight, scale_loss_weight=od.scale_loss_weight,
          offset_loss_weight=od.offset_loss_weight, scale_kernel_sizes=scale_k,
          scale_num_filters=scale_f, offset_kernel_sizes=offset_k, offset_num_filters=offset_f,
          use_depthwise=center_net_config.use_depthwise),
      localization_loss=_localization_loss(od.localization_loss, problems,
                                           f"{od_field}.localization_loss"))


def _detection_task_args(center_net_config, problems, path):
  problems.positive(center_net_config, "num_classes", path)
  return _center_args(center_net_config, problems, path), _box_args(center_net_config,
                                                                    problems, path)


def _make_detection_tasks(num_classes, num_outputs, center, box):
  tasks = [object_center_task.ObjectCenterTask(num_classes, num_outputs, **center)]
  if box is not None:
    tasks.append(box_task.BoxTask(num_outputs, **box))
  return tasks


def build_detection_tasks(center_net_config, is_training, num_outputs, path=FIELD):
  """[ObjectCenterTask, BoxTask] (BoxTask only when object_detection_task is set).

  Args:
    center_net_config: center_net_pb2.CenterNet.
    is_training: bool (unused: the tasks take `training` per call).
    num_outputs: int, backbone outputs (the extractor's num_feature_outputs).
  """
  del is_training
  problems = Problems()
  center, box = _detection_task_args(center_net_config, problems, path)
  _check_unsupported(center_net_config, problems, path)
  problems.raise_if_any()
  return _make_detection_tasks(center_net_config.num_classes, num_outputs, center, box)


def _translate(center_net_config, problems, path):
  """Every check of the message, in config order; returns the parts' arguments."""
  problems.positive(center_net_config, "num_classes", path)
  _check_feature_extractor(center_net_config, problems, path)
  resizer = image_resizer_builder.translate(center_net_config.image_resizer, problems,
                                            f"{path}.image_resizer")
  center = _center_args(center_net_config, problems, path)
  box = _box_args(center_net_config, problems, path)
  deepmac = None
  if center_net_config.HasField("deepmac_mask_estimation"):
    deepmac = deepmac_builder.translate(center_net_config.deepmac_mask_estimation,
                                        center_net_config.num_classes, problems,
                                        f"{path}.deepmac_mask_estimation")
  _check_unsupported(center_net_config, problems, path)
  return resizer, center, box, deepmac


def check(center_net_config, problems, path=FIELD):
  """Adds every problem of a CenterNet message to `problems` (nothing is built)."""
  _translate(center_net_config, problems, path)


def build(center_net_config, is_training, path=FIELD):
  """Returns a CenterNetMetaArch (or DeepMACMetaArch when deepmac_mask_estimation is set).

  Raises:
    ConfigError: listing every problem of the message.
  """
  problems = Problems()
  resizer, center, box, deepmac = _translate(center_net_config, problems, path)
  problems.raise_if_any()
  extractor = build_feature_extractor(center_net_config, is_training, path)
  num_classes, num_outputs = center_net_config.num_classes, extractor.num_feature_outputs
  tasks = _make_detection_tasks(num_classes, num_outputs, center, box)
  if deepmac is None:
    return meta_arch.CenterNetMetaArch(num_classes, extractor, resizer, tasks)
  mask_task = deepmac_builder.make_task(deepmac, num_classes, num_outputs)
  return deepmac_meta_arch.DeepMACMetaArch(num_classes, extractor, resizer, tasks + [mask_task])
