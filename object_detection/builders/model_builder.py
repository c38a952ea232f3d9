"""`build(model_config, is_training)`: the entry point the original's users call.

Dispatches on the `DetectionModel` oneof to the meta-architecture adapters registered in
`core.registries.META_ARCHITECTURES` (each has `check(message, problems, path)` and
`build(message, is_training)`). Load-time validation (config/validation.py) calls `check` through
the same registry, so a config is checked by exactly the code that builds it.
"""

from object_detection.builders import center_net_builder
from object_detection.builders import faster_rcnn_builder
from object_detection.core import registries
from object_detection.core.errors import ConfigError

registries.META_ARCHITECTURES.register("center_net")(center_net_builder)
registries.META_ARCHITECTURES.register("faster_rcnn")(faster_rcnn_builder)


def _adapter(model_config):
  arch = model_config.WhichOneof("model")
  if arch is None:
    raise ConfigError("model: no meta-architecture set (expected one of: "
                      f"{', '.join(registries.META_ARCHITECTURES.names())})")
  if arch not in registries.META_ARCHITECTURES:
    raise ConfigError(
        f"model.{arch}: meta-architecture not supported by this package "
        f"(expected one of: {', '.join(registries.META_ARCHITECTURES.names())})")
  return arch, registries.META_ARCHITECTURES.get(arch)


def build(model_config, is_training, add_summaries=True):
  """Builds a `DetectionModel` from a `model_pb2.DetectionModel` message.

  Args:
    model_config: model_pb2.DetectionModel.
    is_training: whether the model is built for training (batch norm, jitter, ...).
    add_summaries: accepted for compatibility with the original; unused.
  Raises:
    ConfigError: the oneof is unset, names an architecture this package does not build, or
      the message has problems (all listed).
  """
  del add_summaries
  arch, adapter = _adapter(model_config)
  return adapter.build(getattr(model_config, arch), is_training)
