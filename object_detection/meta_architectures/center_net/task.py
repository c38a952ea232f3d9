"""The interface of a CenterNet task (object center, box, DeepMAC masks, ...).

CenterNet = a feature extractor (a list of same-resolution feature maps, one per hourglass
stack, stride 4) + an ordered list of tasks. The meta-architecture only loops over tasks:

    features = extractor(preprocessed, training)                 # list of [B, h, w, C]
    predictions = {}
    for task in tasks: predictions.update(task.predict(features, training))
    losses = {}
    for task in tasks: losses.update(task.loss(predictions, groundtruth, context))
    detections = {}
    for task in tasks: detections.update(task.postprocess(predictions, detections, context))

A task owns its heads (Keras layers created in `__init__`), a pure target function, its loss and
its postprocess step. Prediction keys are namespaced by the task; per-stack predictions are
lists with one tensor per feature map.
"""

import dataclasses

import keras
import tensorflow as tf

from object_detection.core.tracking import CheckpointableCollections


@dataclasses.dataclass(frozen=True)
class TaskContext:
  """What the meta-architecture knows that tasks may need.

  Attributes:
    preprocessed_inputs: [B, H, W, 3] float32 model input (normalized, padded).
    true_image_shapes: [B, 3] int32 (H, W, 3) before padding, at the input resolution.
    stride: int, input pixels per feature-map cell (4 for hourglass).
    training: bool.
    step: scalar int64 tensor or None (for warm-up schedules).
    features: the feature maps (list of [B, h, w, C]) when a task needs them (DeepMAC colour /
      feature consistency), else None.
    unnormalize_fn: callable mapping preprocessed inputs back to RGB [0, 255] float32, or None.
    predict_fn: callable(preprocessed_inputs, training) -> predictions dict of the whole model;
      used by tasks that need a second forward pass (augmented self-supervision), or None.
  """
  preprocessed_inputs: tf.Tensor
  true_image_shapes: tf.Tensor
  stride: int
  training: bool
  step: object = None
  features: object = None
  unnormalize_fn: object = None
  predict_fn: object = None


class CenterNetTask(CheckpointableCollections, keras.layers.Layer):
  """Base class; subclasses implement the three methods (no `call`).

  Heads may be kept in lists (one per backbone stack): CheckpointableCollections makes them
  visible to tf.train.Checkpoint.
  """

  def predict(self, features, training=False):
    """features: list of [B, h, w, C] -> dict of prediction tensors (lists per stack)."""
    raise NotImplementedError

  def check_num_features(self, features, num_heads):
    """Raises when the backbone gives a different number of maps than there are head sets."""
    if len(features) != num_heads:
      raise ValueError(
          f"{type(self).__name__}.predict: one head set per backbone output (got "
          f"{len(features)} feature maps; expected {num_heads})")

  def loss(self, predictions, groundtruth, context):
    """-> {LossNames.*: scalar float32}, weighted as the config says."""
    raise NotImplementedError

  def postprocess(self, predictions, detections, context):
    """-> dict of DetectionResultFields to add, given the detections of earlier tasks."""
    raise NotImplementedError
