"""The model contract every meta-architecture follows; training, eval and export rely on it.

    resized, true_shapes = model.preprocess(images)
    predictions = model.predict(resized, true_shapes, groundtruth=gt_or_None, training=bool)
    losses = model.loss(predictions, true_shapes, groundtruth)        # dict LossNames -> scalar
    detections = model.postprocess(predictions, true_shapes)          # dict DetectionResultFields

Ground truth is always passed explicitly as a dict keyed by `fields.InputDataFields` (batched
labels layout, see fields.py); nothing is stashed on the model. `predict` accepts it because some
heads need it in training (Mask R-CNN samples proposals against it; DeepMAC may crop at GT boxes),
and must work with `groundtruth=None` at inference.
"""

import abc

import keras
import tensorflow as tf

from object_detection.core.containers import BuildOnCall
from object_detection.core.tracking import CheckpointableCollections


class DetectionModel(CheckpointableCollections, BuildOnCall, keras.Model, metaclass=abc.ABCMeta):
  """Base class of CenterNet/DeepMAC and Faster/Mask R-CNN models.

  Subclasses create their layers in `__init__` from already-built parts (only builders read
  protos) and implement the four methods below. `call(images, training)` runs
  preprocess -> predict -> postprocess so `model(images)` builds every variable.

  Sublayers kept in lists/dicts are exposed to `tf.train.Checkpoint` (CheckpointableCollections:
  Keras 3 alone would leave them out of checkpoints). `build` only marks the model built
  (BuildOnCall): sublayers build on the first call, without Keras 3 tracing the whole
  preprocess -> predict -> postprocess symbolically first.
  """

  def __init__(self, num_classes, mask_supervised_class_ids=None, **kwargs):
    super().__init__(**kwargs)
    # keras.Model's Trainer.__init__ sets the instance attribute `self.loss = None`, which would
    # shadow the contract's `loss` method (these models are never `compile()`d).
    if self.__dict__.get("loss", 0) is None:
      del self.__dict__["loss"]
    self._num_classes = num_classes
    self._mask_supervised_class_ids = tuple(mask_supervised_class_ids or ())
    self._variables_built = False

  # Side, in pixels, of the zero image on which `build_variables` runs `predict`: one that every
  # backbone of the subclass accepts. Variable shapes never depend on the input size.
  BUILD_INPUT_SIZE = 128

  def build_variables(self):
    """Creates every variable now, eagerly: predict + postprocess on one zero image of
    BUILD_INPUT_SIZE x BUILD_INPUT_SIZE, given as already preprocessed (the resizer would scale
    it up to the config's resolution, for nothing).

    Call it before tracing the model (training, eval and export do). Variables that Keras 3
    creates inside a tf.function trace keep their initial values as constants of the traced
    graph, and TF then traces the function a second time: on CenterNet HG-104 (191 M parameters)
    that was 1.6 GB more peak memory and 18 s more start-up than building eagerly at 128x128.
    `predict` calls this itself (out of the trace) when a never-called model is first traced.
    """
    if self._variables_built:
      return
    self._variables_built = True
    size = self.BUILD_INPUT_SIZE
    with tf.init_scope():  # eager, even when called while a tf.function is being traced
      images = tf.zeros([1, size, size, 3], tf.float32)
      true_shapes = tf.constant([[size, size, 3]], tf.int32)
      self.postprocess(self.predict(images, true_shapes, training=False), true_shapes)

  def _build_before_trace(self):
    """In `predict`: a model never called before, now traced, builds its variables eagerly."""
    if not self._variables_built and tf.inside_function() and not self.variables:
      self.build_variables()

  @property
  def num_classes(self):
    return self._num_classes

  @property
  def mask_supervised_class_ids(self):
    """The 1-based label ids whose masks supervise training (partial mask supervision), or None
    when every class's masks do. Evaluation splits its mask metrics on them."""
    return list(self._mask_supervised_class_ids) or None

  @abc.abstractmethod
  def preprocess(self, images):
    """Resizes (image_resizer) and normalizes a batch of raw images.

    Args:
      images: [B, H, W, 3] float32 in raw pixel values [0, 255], RGB.
    Returns:
      preprocessed: [B, H', W', 3] float32 model input (padded as the resizer says).
      true_image_shapes: [B, 3] int32, the resized (H, W, 3) of each image before padding.
    """

  @abc.abstractmethod
  def predict(self, preprocessed_inputs, true_image_shapes, groundtruth=None, training=False):
    """Runs the network; returns a dict of raw prediction tensors (model specific keys)."""

  @abc.abstractmethod
  def loss(self, prediction_dict, true_image_shapes, groundtruth, training=True):
    """Returns {LossNames.*: scalar float32}, each already multiplied by its weight."""

  @abc.abstractmethod
  def postprocess(self, prediction_dict, true_image_shapes):
    """Returns detections keyed by DetectionResultFields (static shapes)."""

  def restore_map(self, fine_tune_checkpoint_type="detection"):
    """Returns {name: trackable} to restore for `fine_tune_checkpoint_type`.

    "detection": the feature extractor; "classification": its classification backbone; "full":
    the whole model. "fine_tune" is an alias of "detection" (the original's configs use it).
    """
    if fine_tune_checkpoint_type == "full":
      return {"model": self}
    raise NotImplementedError(
        f"{type(self).__name__} does not define restore_map({fine_tune_checkpoint_type!r})")

  def call(self, images, training=False):
    preprocessed, true_shapes = self.preprocess(images)
    predictions = self.predict(preprocessed, true_shapes, training=training)
    return self.postprocess(predictions, true_shapes)
