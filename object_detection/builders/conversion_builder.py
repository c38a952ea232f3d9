"""Builds a model whose variables exist, cheaply: for checkpoint conversion and name checks.

    model = conversion_builder.build_with_variables(pipeline_configs["model"])

Keras creates most variables on the first call. A real first call at the config's resolution
(1024x1024 for the DeepMAC paper configs, with a 47 M-parameter mask head run on 100 detections)
costs many seconds; variable names and shapes do not depend on the input size nor on how many
detections are kept, so the model is called once on a zero image of a small fixed size, with a
copy of the config reduced to one detection / a few proposals. The returned model is built from
that copy and computes exactly as a model built from the original config EXCEPT for the image
size and detection counts: use it to hold variables (convert, restore, save), not to infer.
"""

import tensorflow as tf

from object_detection.builders import model_builder
from object_detection.core.errors import ConfigError

# Input side of the single call: divisible by 128 (an hourglass with 5 stages at stride 4) and by
# the deepest FPN level the configs use (2^7).
_CENTER_NET_SIZE = 128
_FASTER_RCNN_SIZE = 256


def _shrink_resizer(resizer, size):
  resizer.Clear()
  resizer.fixed_shape_resizer.height = size
  resizer.fixed_shape_resizer.width = size


def cheap_config(model_config):
  """A copy of `model_config` (model_pb2.DetectionModel) that builds the same variables with a
  small forward pass, and the input side to call it with."""
  cheap = type(model_config)()
  cheap.CopyFrom(model_config)
  arch = cheap.WhichOneof("model")
  if arch == "center_net":
    config = cheap.center_net
    _shrink_resizer(config.image_resizer, _CENTER_NET_SIZE)
    if config.HasField("object_center_params"):
      config.object_center_params.max_box_predictions = 1
    return cheap, _CENTER_NET_SIZE
  if arch == "faster_rcnn":
    config = cheap.faster_rcnn
    _shrink_resizer(config.image_resizer, _FASTER_RCNN_SIZE)
    config.first_stage_max_proposals = min(config.first_stage_max_proposals, 8)
    nms = config.second_stage_post_processing.batch_non_max_suppression
    nms.max_detections_per_class = min(nms.max_detections_per_class, 2)
    nms.max_total_detections = min(nms.max_total_detections, 2)
    return cheap, _FASTER_RCNN_SIZE
  if arch is None:
    raise ConfigError("model: no meta-architecture set (expected one of: center_net, faster_rcnn)")
  return cheap, _CENTER_NET_SIZE


def build_with_variables(model_config, is_training=False):
  """Builds the model of `model_config` and creates all its variables (see the module doc).

  Args:
    model_config: model_pb2.DetectionModel.
    is_training: passed to the builder.
  Returns:
    a DetectionModel whose variables all exist.
  """
  cheap, size = cheap_config(model_config)
  model = model_builder.build(cheap, is_training=is_training)
  model(tf.zeros([1, size, size, 3], tf.float32), training=False)
  return model
