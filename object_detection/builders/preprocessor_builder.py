"""Builds data augmentations from `PreprocessingStep` messages (train_config.data_augmentation_options).

    augment = preprocessor_builder.build_all(train_config.data_augmentation_options)
    tensor_dict = augment(tensor_dict, seed)           # seed: [2] int stateless seed

Unsupported steps fail here, when the pipeline is built, never in the middle of training.
"""

from object_detection.core.errors import ConfigError
from object_detection.core.registries import AUGMENTATIONS
from object_detection.data import augment


def build(step, field_path="train_config.data_augmentation_options"):
  """Returns `fn(tensor_dict, seed) -> tensor_dict` for one PreprocessingStep.

  Raises:
    ConfigError: the step is empty, or valid in the original's schema but not implemented here
      (the message names it and lists the supported steps).
  """
  name = step.WhichOneof("preprocessing_step")
  if name is None:
    raise ConfigError(f"{field_path}: empty PreprocessingStep (expected one of: "
                      f"{', '.join(AUGMENTATIONS.names())})")
  if name not in AUGMENTATIONS:
    raise ConfigError(
        f"{field_path}: preprocessing step {name!r} is not supported by this package "
        f"(got {name}; expected one of: {', '.join(AUGMENTATIONS.names())})")
  return AUGMENTATIONS.get(name, field_path=field_path)(getattr(step, name))


def build_all(steps, field_path="train_config.data_augmentation_options"):
  """Returns one `fn(tensor_dict, seed)` applying every step in order (identity when empty)."""
  return augment.compose(build(s, f"{field_path}[{i}]") for i, s in enumerate(steps))
