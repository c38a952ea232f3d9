"""CenterNetMetaArch: a feature extractor plus an ordered list of tasks (see task.py).

    model = CenterNetMetaArch(num_classes, extractor, resizer_fn, [ObjectCenterTask, BoxTask])
    preprocessed, true_shapes = model.preprocess(images)            # [B, H, W, 3], [B, 3]
    predictions = model.predict(preprocessed, true_shapes, training=True)
    losses = model.loss(predictions, true_shapes, groundtruth)      # {LossNames.*: scalar}
    detections = model.postprocess(predictions, true_shapes)        # {DetectionResultFields.*}

Prediction keys: PREPROCESSED_INPUTS, FEATURES (list of backbone maps) and each task's keys.
"""

import tensorflow as tf

from object_detection.core import model as model_lib
from object_detection.core import precision
from object_detection.meta_architectures.center_net import task as task_lib

PREPROCESSED_INPUTS = "preprocessed_inputs"
FEATURES = "extracted_features"


class CenterNetMetaArch(model_lib.DetectionModel):
  """CenterNet (Zhou et al. 2019, "Objects as Points") over pluggable tasks.

  Args:
    num_classes: int.
    feature_extractor: a CenterNet feature extractor layer (models/center_net_extractors.py).
    image_resizer_fn: fn(image [H, W, 3] float32, masks=None) -> (resized [H', W', 3],
      masks_or_None, true_shape [3] int32); must give a static output shape (pad_to_max_dimension
      or fixed_shape_resizer) so that images batch.
    tasks: ordered list of CenterNetTask (object centre first, then box, then e.g. DeepMAC).
  """

  def __init__(self, num_classes, feature_extractor, image_resizer_fn, tasks, **kwargs):
    super().__init__(num_classes, **kwargs)
    # keras.Model's Trainer.__init__ sets the instance attribute `self.loss = None`, which
    # shadows the contract's `loss` method; drop it (compile() is never used on these models).
    if self.__dict__.get("loss", 0) is None:
      del self.__dict__["loss"]
    self._feature_extractor = feature_extractor
    self._image_resizer_fn = image_resizer_fn
    self._tasks = list(tasks)
    for t in self._tasks:
      if not isinstance(t, task_lib.CenterNetTask):
        raise TypeError(f"CenterNetMetaArch: tasks must be CenterNetTask layers "
                        f"(got {type(t).__name__}; expected CenterNetTask subclasses)")

  def build(self, input_shape):
    # Sublayers build on their first call (preprocess -> predict); nothing to create here.
    self.built = True

  @property
  def feature_extractor(self):
    return self._feature_extractor

  @property
  def tasks(self):
    return tuple(self._tasks)

  @property
  def stride(self):
    return self._feature_extractor.out_stride

  def preprocess(self, images):
    """Resizes each image (tf.map_fn over the resizer) then normalizes (extractor.preprocess).

    Args:
      images: [B, H, W, 3] float32 raw RGB in [0, 255].
    Returns:
      ([B, H', W', 3] float32 normalized, [B, 3] int32 true (H, W, 3) before padding).
    """
    images = tf.cast(images, tf.float32)

    # The resizers are plain TF (no Python control flow on tensors): skip autograph, which
    # otherwise re-converts this function on every eager call of map_fn (~2 s each on CPU).
    @tf.autograph.experimental.do_not_convert
    def _resize(image):
      resized, _, true_shape = self._image_resizer_fn(image)
      return resized, tf.cast(true_shape, tf.int32)

    # Trace (not run) the resizer once to learn its static output shape, so that the batched
    # result keeps static shapes (needed by XLA and the heads).
    probe = tf.function(_resize, autograph=False).get_concrete_function(
        tf.TensorSpec(images.shape[1:], tf.float32))
    resized_shape = probe.structured_outputs[0].shape
    resized, true_shapes = tf.map_fn(
        _resize, images,
        fn_output_signature=(tf.TensorSpec(resized_shape, tf.float32),
                             tf.TensorSpec([3], tf.int32)))
    return self._feature_extractor.preprocess(resized), true_shapes

  def _context(self, prediction_dict, true_image_shapes, training):
    return task_lib.TaskContext(
        preprocessed_inputs=prediction_dict[PREPROCESSED_INPUTS],
        true_image_shapes=true_image_shapes, stride=self.stride, training=training,
        features=prediction_dict.get(FEATURES),
        unnormalize_fn=self._feature_extractor.preprocess_reverse,
        predict_fn=lambda inputs, train: self.predict(inputs, true_image_shapes, training=train))

  def predict(self, preprocessed_inputs, true_image_shapes, groundtruth=None, training=False):
    """Runs the backbone and every task's heads.

    Returns:
      {PREPROCESSED_INPUTS: [B, H, W, 3] float32, FEATURES: list of [B, h, w, C] in the
      layers' compute dtype (bfloat16 under mixed precision), and the tasks' keys (lists with
      one float32 tensor per backbone stack)}.
    """
    del true_image_shapes, groundtruth  # CenterNet heads do not use them
    self._build_before_trace()
    features = self._feature_extractor(preprocessed_inputs, training=training)
    predictions = {PREPROCESSED_INPUTS: preprocessed_inputs, FEATURES: features}
    for t in self._tasks:
      # Heads compute in the layers' dtype (bfloat16 under mixed precision); targets, losses
      # and postprocessing run in float32.
      predictions.update(precision.to_float32(t.predict(features, training=training)))
    return predictions

  def loss(self, prediction_dict, true_image_shapes, groundtruth, training=True):
    """{LossNames.*: scalar float32} from every task, already weighted."""
    context = self._context(prediction_dict, true_image_shapes, training)
    losses = {}
    for t in self._tasks:
      losses.update(t.loss(prediction_dict, groundtruth, context))
    return losses

  def postprocess(self, prediction_dict, true_image_shapes):
    """Detections of the last backbone stack (private "_" keys of the tasks removed)."""
    context = self._context(prediction_dict, true_image_shapes, training=False)
    detections = {}
    for t in self._tasks:
      detections.update(t.postprocess(prediction_dict, detections, context))
    return {k: v for k, v in detections.items() if not k.startswith("_")}

  def restore_map(self, fine_tune_checkpoint_type="detection"):
    """'detection'/'fine_tune': the feature extractor; 'classification': its ImageNet backbone;
    'full': the whole model."""
    if fine_tune_checkpoint_type == "full":
      return {"model": self}
    if fine_tune_checkpoint_type in ("detection", "fine_tune"):
      return {"model": tf.train.Checkpoint(_feature_extractor=self._feature_extractor)}
    if fine_tune_checkpoint_type == "classification":
      return self._feature_extractor.restore_map("classification")
    raise ValueError(
        "CenterNetMetaArch.restore_map: unknown fine_tune_checkpoint_type (got "
        f"{fine_tune_checkpoint_type!r}; expected 'detection', 'fine_tune', 'classification' "
        "or 'full')")
