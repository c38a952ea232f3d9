"""The adapters of `EvalConfig` and of the eval `InputReader`: evaluators, eval settings, the
one-pass eval reader, categories.

    evaluators = eval_builder.build_evaluators(eval_config, categories,
                                               model.mask_supervised_class_ids)
    settings = eval_builder.eval_settings(eval_config, train_config)
"""

import dataclasses

from object_detection.core.errors import ConfigError
from object_detection.core.registries import EVAL_METRICS
from object_detection.eval import metrics as metrics_lib
from object_detection.utils import label_map_util


@dataclasses.dataclass(frozen=True)
class EvalSettings:
  """The EvalConfig fields the eval loop uses (and the precision the model trained in)."""
  use_moving_averages: bool = False
  num_visualizations: int = 10
  min_score_threshold: float = 0.5
  max_num_boxes_to_visualize: int = 20
  use_bfloat16: bool = False


def eval_settings(eval_config, train_config=None):
  """EvalConfig (+ TrainConfig: a model trained with use_bfloat16 is evaluated in mixed
  bfloat16, as the original does on TPU) -> EvalSettings."""
  return EvalSettings(
      use_moving_averages=bool(eval_config.use_moving_averages),
      num_visualizations=int(eval_config.num_visualizations),
      min_score_threshold=float(eval_config.min_score_threshold),
      max_num_boxes_to_visualize=int(eval_config.max_num_boxes_to_visualize),
      use_bfloat16=bool(train_config is not None and train_config.use_bfloat16))


def one_pass_reader(input_config, sample_1_of_n_examples=1):
  """A copy of an InputReader that reads its files once, in order (every n-th example)."""
  reader = type(input_config)()
  reader.CopyFrom(input_config)
  reader.num_epochs = 1
  reader.shuffle = False
  if sample_1_of_n_examples and sample_1_of_n_examples > 1:
    reader.sample_1_of_n_examples = int(sample_1_of_n_examples)
  return reader


def categories(input_config, num_classes):
  """Label map of an InputReader -> list of {"id", "name"} (ids 1..num_classes without one)."""
  if input_config.label_map_path:
    return label_map_util.create_categories_from_labelmap(input_config.label_map_path)
  return [{"id": i, "name": str(i)} for i in range(1, num_classes + 1)]


def label_map_path(pipeline):
  """The label map of a pipeline's first eval reader (else its train reader), or ""."""
  readers = list(pipeline.eval_input_reader) or [pipeline.train_input_reader]
  return readers[0].label_map_path


def _super_categories(eval_config):
  """eval_config.super_categories (name -> comma-separated class names) -> {name: [names]}."""
  return {name: [c.strip() for c in str(value).split(",") if c.strip()]
          for name, value in eval_config.super_categories.items()}


def build_evaluators(eval_config, categories_list, mask_supervised_class_ids=None,
                     path="eval_config"):
  """`eval_config.metrics_set` (default coco_detection_metrics) -> list of evaluators.

  Args:
    eval_config: EvalConfig message.
    categories_list: [{"id": 1-based int, "name": str}] of the label map.
    mask_supervised_class_ids: the model's mask-supervised label ids (None: all classes).
  Raises:
    ConfigError: an unknown metrics_set, a super category naming an unknown class, or
      supervised ids that the label map does not have.
  """
  super_categories = _super_categories(eval_config)
  for name, unknown in metrics_lib.unknown_super_category_members(
      categories_list, super_categories).items():
    raise ConfigError(f"{path}.super_categories[{name!r}]: unknown class names (got {unknown}; "
                      "expected names from the label map)")
  bad = metrics_lib.ids_not_in_categories(categories_list, mask_supervised_class_ids or ())
  if bad:
    raise ConfigError(
        f"allowed_masked_classes_ids: ids not in the label map (got {bad}; expected 1-based ids "
        f"among {sorted(int(c['id']) for c in categories_list)})")
  sets = list(eval_config.metrics_set) or ["coco_detection_metrics"]
  evaluators = []
  for index, name in enumerate(sets):
    field = f"{path}.metrics_set[{index}]" if eval_config.metrics_set else f"{path}.metrics_set"
    factory = EVAL_METRICS.get(name, field_path=field)
    try:
      evaluators.append(factory(
          categories_list, include_metrics_per_category=eval_config.include_metrics_per_category,
          super_categories=super_categories, mask_supervised_class_ids=mask_supervised_class_ids))
    except ConfigError as e:  # e.g. lvis_mask_metrics without the lvis package
      raise ConfigError(f"{field}: {e}") from e
  return evaluators
