"""The adapter of the input side of a pipeline (TrainConfig / EvalConfig, InputReader and the
model's num_classes / image_resizer): the plain settings `inputs.py` assembles a dataset from.

    settings = input_builder.train_input_settings(train_config, train_input_config, model_config)
"""

import dataclasses
from typing import Callable, Optional, Tuple

from object_detection.builders import image_resizer_builder
from object_detection.builders import preprocessor_builder
from object_detection.utils import config_util


@dataclasses.dataclass(frozen=True)
class InputSettings:
  """What the input pipeline needs from the configs.

  num_classes: one-hot depth. resizer: the model's image resizer (data/resizers.py contract),
  used for the masks. spatial_shape: static (H, W) of the resized images, or None.
  max_boxes: instances per image after padding/clipping. batch_size: global batch size.
  augment_fn: `fn(tensor_dict, seed)` (training) or None. retain_original_image: keep the raw
  resized image (evaluation pictures).
  """
  num_classes: int
  resizer: Callable
  spatial_shape: Optional[Tuple[int, int]]
  max_boxes: int
  batch_size: int
  augment_fn: Optional[Callable] = None
  retain_original_image: bool = False


def _model_settings(model_config):
  kind = model_config.WhichOneof("model")
  resizer_config = config_util.get_image_resizer_config(model_config)
  resizer = image_resizer_builder.build(resizer_config, field_path=f"model.{kind}.image_resizer")
  size = config_util.get_spatial_image_size(resizer_config)
  spatial = tuple(int(s) for s in size) if all(s > 0 for s in size) else None
  return int(config_util.get_number_of_classes(model_config)), resizer, spatial


def train_input_settings(train_config, train_input_config, model_config):
  """InputSettings of training: augmentations, train_config.batch_size."""
  num_classes, resizer, spatial = _model_settings(model_config)
  return InputSettings(
      num_classes=num_classes, resizer=resizer, spatial_shape=spatial,
      max_boxes=int(train_input_config.max_number_of_boxes),
      batch_size=int(train_config.batch_size),
      augment_fn=preprocessor_builder.build_all(train_config.data_augmentation_options))


def eval_input_settings(eval_config, eval_input_config, model_config):
  """InputSettings of evaluation: no augmentation, eval_config.batch_size."""
  num_classes, resizer, spatial = _model_settings(model_config)
  return InputSettings(
      num_classes=num_classes, resizer=resizer, spatial_shape=spatial,
      max_boxes=int(eval_input_config.max_number_of_boxes),
      batch_size=int(eval_config.batch_size),
      retain_original_image=bool(eval_config.retain_original_images))
