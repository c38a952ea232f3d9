"""Builds the image resizer of a model config (`ImageResizer` message of image_resizer.proto).

    resizer = image_resizer_builder.build(model_config.center_net.image_resizer)
    resized_image, resized_masks, true_image_shape = resizer(image, masks)

The returned callable's contract is documented in `object_detection/data/resizers.py`.
"""

from object_detection.core.errors import ConfigError
from object_detection.core.registries import IMAGE_RESIZERS
from object_detection.data import resizers  # noqa: F401  (registers the resizers)


def build(image_resizer_config, field_path="model.image_resizer"):
  """Returns `fn(image [H,W,C] float32, masks=None) -> (image, masks_or_None, true_shape [3])`.

  Args:
    image_resizer_config: an `ImageResizer` proto message.
    field_path: where the message sits in the pipeline config (for error messages).
  Raises:
    ConfigError: no resizer set, an unknown one, or invalid values.
  """
  name = image_resizer_config.WhichOneof("image_resizer_oneof")
  if name is None:
    raise ConfigError(f"{field_path}: no image resizer is set (expected one of: "
                      f"{', '.join(IMAGE_RESIZERS.names())})")
  factory = IMAGE_RESIZERS.get(name, field_path=field_path)
  return factory(getattr(image_resizer_config, name), field_path=f"{field_path}.{name}")
