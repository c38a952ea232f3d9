"""`build(model_config, is_training)`: the entry point the original's users call.

Dispatches on the `DetectionModel` oneof to the meta-architecture builders. Only builders read
protos; the models they return take plain values and built layers.
"""

from object_detection.core.errors import ConfigError


def _build_center_net(config, is_training, add_summaries):
  del add_summaries
  from object_detection.builders import center_net_builder  # pylint: disable=import-outside-toplevel
  return center_net_builder.build(config, is_training)


def _build_faster_rcnn(config, is_training, add_summaries):
  del add_summaries
  from object_detection.builders import faster_rcnn_builder  # pylint: disable=import-outside-toplevel
  return faster_rcnn_builder.build(config, is_training)


_META_ARCHITECTURES = {
    "center_net": _build_center_net,
    "faster_rcnn": _build_faster_rcnn,
}


def build(model_config, is_training, add_summaries=True):
  """Builds a `DetectionModel` from a `model_pb2.DetectionModel` message.

  Args:
    model_config: model_pb2.DetectionModel.
    is_training: whether the model is built for training (batch norm, jitter, ...).
    add_summaries: accepted for compatibility with the original; unused.
  Raises:
    ConfigError: the oneof is unset or names an architecture this package does not build.
  """
  arch = model_config.WhichOneof("model")
  if arch is None:
    raise ConfigError("model: no meta-architecture set (expected one of: center_net, faster_rcnn)")
  if arch not in _META_ARCHITECTURES:
    raise ConfigError(
        f"model.{arch}: meta-architecture not supported by this package "
        f"(expected one of: {', '.join(sorted(_META_ARCHITECTURES))})")
  return _META_ARCHITECTURES[arch](getattr(model_config, arch), is_training, add_summaries)
