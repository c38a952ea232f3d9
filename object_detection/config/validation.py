"""Semantic checks of a parsed pipeline config, run at load time.

Each problem reads `<field path>: <problem> (got X; expected Y)`. All problems found are reported
together (one per line) in a single ConfigError, so a user fixes a config in one pass.

What is checked:
- sizes and counts that must be positive (num_classes, batch sizes, resizer dimensions, DeepMAC
  dim / pixel_embedding_dim / mask_size, ...);
- registry names (CenterNet / Faster R-CNN feature extractors, DeepMAC network_type) against
  `object_detection.core.registries`, with a "did you mean"; a registry with no entries yet is
  skipped (its implementation is not installed);
- DeepMAC option combinations the original rejects (FEATURES.md §1.4), plus the colour-consistency
  loss without full-resolution masks (a silent no-op in the original: we warn);
- augmentations and eval metrics_set names against their registries (every augmentation of the
  original parses; one that is not implemented is reported here rather than at the first step);
- optimizer schedules the original rejects at build time (cosine warm-up longer than the schedule);
- allowed values of string enums (fine_tune_checkpoint_type).
"""

import logging

from object_detection.config.problems import Problems, short_float as _g
from object_detection.config.validation_deepmac import check_deepmac
from object_detection.core import registries
from object_detection.core.errors import ConfigError, did_you_mean

_LOG = logging.getLogger(__name__)

FINE_TUNE_CHECKPOINT_TYPES = ("", "classification", "detection", "full")


def _check_resizer(resizer, path, problems):
  kind = resizer.WhichOneof("image_resizer_oneof")
  if kind == "keep_aspect_ratio_resizer":
    keep = resizer.keep_aspect_ratio_resizer
    sub = f"{path}.keep_aspect_ratio_resizer"
    problems.positive(keep, "min_dimension", sub)
    problems.positive(keep, "max_dimension", sub)
    if 0 < keep.max_dimension < keep.min_dimension:
      problems.add(f"{sub}.max_dimension", f"smaller than min_dimension (got {keep.max_dimension};"
                   f" expected >= {keep.min_dimension})")
    if keep.per_channel_pad_value and len(keep.per_channel_pad_value) not in (1, 3):
      problems.add(f"{sub}.per_channel_pad_value", "wrong length (got "
                   f"{len(keep.per_channel_pad_value)} values; expected 3, or 1 for grayscale)")
  elif kind == "fixed_shape_resizer":
    problems.positive(resizer.fixed_shape_resizer, "height", f"{path}.fixed_shape_resizer")
    problems.positive(resizer.fixed_shape_resizer, "width", f"{path}.fixed_shape_resizer")
  elif kind == "conditional_shape_resizer":
    problems.positive(resizer.conditional_shape_resizer, "size_threshold",
                      f"{path}.conditional_shape_resizer")
  elif kind == "pad_to_multiple_resizer":
    problems.positive(resizer.pad_to_multiple_resizer, "multiple",
                      f"{path}.pad_to_multiple_resizer")


def _check_center_net(center_net, path, problems):
  problems.positive(center_net, "num_classes", path)
  if center_net.HasField("feature_extractor"):
    extractor = center_net.feature_extractor
    problems.registered(registries.CENTER_NET_FEATURE_EXTRACTORS, extractor.type,
                        f"{path}.feature_extractor.type")
    for field in ("channel_means", "channel_stds"):
      values = list(getattr(extractor, field))
      if values and len(values) != 3:
        problems.add(f"{path}.feature_extractor.{field}",
                     f"wrong length (got {len(values)} values; expected 3, one per RGB channel)")
    if any(s <= 0 for s in extractor.channel_stds):
      problems.add(f"{path}.feature_extractor.channel_stds", "must be positive (got "
                   f"{list(extractor.channel_stds)}; expected values > 0)")
  else:
    problems.add(f"{path}.feature_extractor", "missing (got nothing; expected a block with type)")
  _check_resizer(center_net.image_resizer, f"{path}.image_resizer", problems)
  if center_net.HasField("object_center_params"):
    center = center_net.object_center_params
    sub = f"{path}.object_center_params"
    problems.positive(center, "max_box_predictions", sub)
    problems.positive(center, "peak_max_pool_kernel_size", sub)
    if not 0 < center.min_box_overlap_iou <= 1:
      problems.add(f"{sub}.min_box_overlap_iou",
                   f"out of range (got {_g(center.min_box_overlap_iou)}; expected in (0, 1])")
  if center_net.HasField("deepmac_mask_estimation"):
    check_deepmac(center_net.deepmac_mask_estimation, center_net.num_classes,
                   f"{path}.deepmac_mask_estimation", problems)


def _check_faster_rcnn(faster_rcnn, path, problems):
  problems.positive(faster_rcnn, "num_classes", path)
  if faster_rcnn.HasField("feature_extractor"):
    problems.registered(registries.FASTER_RCNN_FEATURE_EXTRACTORS,
                        faster_rcnn.feature_extractor.type, f"{path}.feature_extractor.type")
  _check_resizer(faster_rcnn.image_resizer, f"{path}.image_resizer", problems)


def _check_learning_rate(learning_rate, path, problems):
  kind = learning_rate.WhichOneof("learning_rate")
  if kind == "cosine_decay_learning_rate":
    cosine = learning_rate.cosine_decay_learning_rate
    sub = f"{path}.cosine_decay_learning_rate"
    if cosine.total_steps < cosine.warmup_steps:
      problems.add(f"{sub}.total_steps", f"shorter than the warm-up (got {cosine.total_steps}; "
                   f"expected >= warmup_steps = {cosine.warmup_steps})")
    if cosine.learning_rate_base < cosine.warmup_learning_rate:
      problems.add(f"{sub}.learning_rate_base", "below the warm-up rate (got "
                   f"{_g(cosine.learning_rate_base)}; expected >= warmup_learning_rate = "
                   f"{_g(cosine.warmup_learning_rate)})")
  elif kind == "manual_step_learning_rate":
    steps = [s.step for s in learning_rate.manual_step_learning_rate.schedule]
    if steps != sorted(set(steps)):
      problems.add(f"{path}.manual_step_learning_rate.schedule",
                   f"steps must increase (got {steps}; expected strictly increasing steps)")


def _check_train(train_config, problems):
  path = "train_config"
  problems.positive(train_config, "batch_size", path)
  _warn_placeholder(train_config.fine_tune_checkpoint, f"{path}.fine_tune_checkpoint")
  if train_config.use_bfloat16:
    _LOG.warning("%s.use_bfloat16: true trains and evaluates in mixed bfloat16 on every device "
                 "(the original: only on TPU, float32 elsewhere); set it to false for float32 "
                 "(docs/DEVIATIONS.md)", path)
  kind = train_config.fine_tune_checkpoint_type
  if kind not in FINE_TUNE_CHECKPOINT_TYPES:
    problems.add(f"{path}.fine_tune_checkpoint_type", f"unknown type {kind!r}"
                 f"{did_you_mean(kind, FINE_TUNE_CHECKPOINT_TYPES[1:])} (expected one of: "
                 "classification, detection, full; fine_tune is read as detection)")
  augmentations = registries.AUGMENTATIONS
  for index, step in enumerate(train_config.data_augmentation_options):
    name = step.WhichOneof("preprocessing_step")
    if name is None:
      problems.add(f"{path}.data_augmentation_options[{index}]",
                   "empty step (got {}; expected one augmentation, e.g. random_horizontal_flip {})")
    elif augmentations.names() and name not in augmentations:
      problems.add(f"{path}.data_augmentation_options[{index}]", f"augmentation {name!r} parses "
                   f"but is not implemented (expected one of: {', '.join(augmentations.names())})")
  optimizer = train_config.optimizer
  kind = optimizer.WhichOneof("optimizer")
  if kind:
    _check_learning_rate(getattr(optimizer, kind).learning_rate,
                         f"{path}.optimizer.{kind}.learning_rate", problems)


PLACEHOLDER = "PATH_TO_BE_CONFIGURED"


def _warn_placeholder(value, path):
  if PLACEHOLDER in value:
    _LOG.warning("%s still contains %s (got %r): set it before training or evaluating",
                 path, PLACEHOLDER, value)


def _check_input(reader, path, problems):
  _warn_placeholder(reader.label_map_path, f"{path}.label_map_path")
  for index, input_path in enumerate(reader.tf_record_input_reader.input_path):
    _warn_placeholder(input_path, f"{path}.tf_record_input_reader.input_path[{index}]")
  problems.positive(reader, "max_number_of_boxes", path)
  problems.positive(reader, "sample_1_of_n_examples", path)
  if reader.WhichOneof("input_reader") == "tf_record_input_reader":
    if not reader.tf_record_input_reader.input_path:
      problems.add(f"{path}.tf_record_input_reader.input_path",
                   "empty (got no path; expected at least one TFRecord path or glob)")


def check(pipeline, check_registries=True):
  """Returns the list of problems (strings) of a normalised TrainEvalPipelineConfig."""
  if check_registries:
    registries.load_all()
  problems = Problems()
  kind = pipeline.model.WhichOneof("model")
  if kind == "center_net":
    _check_center_net(pipeline.model.center_net, "model.center_net", problems)
  elif kind == "faster_rcnn":
    _check_faster_rcnn(pipeline.model.faster_rcnn, "model.faster_rcnn", problems)
  if pipeline.HasField("train_config"):
    _check_train(pipeline.train_config, problems)
  if pipeline.HasField("train_input_reader"):
    _check_input(pipeline.train_input_reader, "train_input_reader", problems)
  if pipeline.HasField("eval_config"):
    problems.positive(pipeline.eval_config, "batch_size", "eval_config")
    for index, name in enumerate(pipeline.eval_config.metrics_set):
      problems.registered(registries.EVAL_METRICS, name, f"eval_config.metrics_set[{index}]")
  for index, reader in enumerate(pipeline.eval_input_reader):
    _check_input(reader, f"eval_input_reader[{index}]", problems)
  return problems.lines


def validate(pipeline, check_registries=True, source=None):
  """Raises ConfigError listing every problem of `pipeline` (a TrainEvalPipelineConfig).

  Args:
    pipeline: a parsed, normalised TrainEvalPipelineConfig.
    check_registries: check names against the registries (imports their implementations).
    source: file name put before the problems (`<source>: ...` header line), or None.
  """
  lines = check(pipeline, check_registries=check_registries)
  if lines:
    header = f"{source}: invalid config\n" if source and len(lines) > 1 else (
        f"{source}: " if source else "")
    raise ConfigError(header + "\n".join(lines))
