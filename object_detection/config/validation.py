"""Semantic checks of a parsed pipeline config, run at load time.

Each problem reads `<field path>: <problem> (got X; expected Y)`. All problems found are reported
together (one per line) in a single ConfigError, so a user fixes a config in one pass.

What is checked:
- the model: the meta-architecture's adapter (`check` of builders/center_net_builder.py, ...,
  registered in `core.registries.META_ARCHITECTURES`) runs every check its build runs (sizes,
  registry names with a "did you mean", DeepMAC option combinations, image resizer), without
  building anything;
- sizes and counts that must be positive (batch sizes, max_number_of_boxes, ...);
- augmentations and eval metrics_set names against their registries (every augmentation of the
  original parses; one that is not implemented is reported here rather than at the first step);
  a registry with no entries yet is skipped (its implementation is not installed);
- optimizer schedules the original rejects at build time (cosine warm-up longer than the schedule);
- allowed values of string enums (fine_tune_checkpoint_type).
"""

import logging

from object_detection.core import registries
from object_detection.core.errors import did_you_mean
from object_detection.core.problems import Problems, short_float as _g

_LOG = logging.getLogger(__name__)

FINE_TUNE_CHECKPOINT_TYPES = ("", "classification", "detection", "full")


def _check_model(model_config, problems):
  """The model part: the adapter registered for the oneof (builders/*_builder.py `check`)."""
  kind = model_config.WhichOneof("model")
  if kind in registries.META_ARCHITECTURES:
    registries.META_ARCHITECTURES.get(kind).check(getattr(model_config, kind), problems,
                                                  f"model.{kind}")


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
    step_path = f"{path}.data_augmentation_options[{index}]"
    if name is None:
      problems.add(step_path,
                   "empty step (got {}; expected one augmentation, e.g. random_horizontal_flip {})")
    elif augmentations.names() and name not in augmentations:
      problems.add(step_path, f"augmentation {name!r} parses but is not implemented (expected "
                   f"one of: {', '.join(augmentations.names())})")
    elif name in augmentations:  # the step's adapter (builders/preprocessor_builder.py)
      augmentations.get(name)(getattr(step, name), problems, f"{step_path}.{name}")
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
  _check_model(pipeline.model, problems)
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
  problems = Problems()
  problems.lines = check(pipeline, check_registries=check_registries)
  problems.raise_if_any(source)
