"""SavedModel serving functions (the original's exporter_lib_v2 detection modules).

`input_type` -> serving_default input:
  image_tensor                 uint8 [1, None, None, 3]   (batch 1, as the original)
  float_image_tensor           float32 [None, None, None, 3]
  encoded_image_string_tensor  string [None] (JPEG/PNG, decoded to 3 channels; same size)
  tf_example                   string [None] serialized tf.train.Example (`image/encoded`)
Outputs (all float32, as the original): detection_boxes [B, K, 4] normalized to the input image,
detection_scores [B, K], detection_classes [B, K] 1-based label ids, num_detections [B], plus
every other postprocess output (detection_masks [B, K, h, w] box-relative probabilities, ...).

The module records the compute dtype it was exported with: `loaded.compute_dtype()` returns
'float32' or 'bfloat16' (mixed precision: bfloat16 layers, float32 outputs).

Box-prompted signature `image_and_boxes` (models with `predict_masks_from_boxes`):
  (input_tensor uint8 [1, None, None, 3], boxes float32 [1, None, 4] normalized to the image)
  -> detection_masks [1, N, h, w] float32 box-relative probabilities, detection_boxes (echo).

Checks inside the graph (a restored signature function does not check shapes itself, so without
them a batch of 2 given to a batch-1 signature would be run as a batch of 1 and the second image
dropped): batch 1 for the [1, ...] inputs, 3 channels for image inputs (encoded images are
decoded to 3 channels: grayscale is repeated, alpha dropped).

The module tracks the model's variables as plain `tf.Variable`s (not the Keras model): Keras 3
variables are saved with a second copy that the function does not read, which TensorFlow's own
Python loader copes with but the LiteRT converter's SavedModel importer does not (it leaves the
weights as uninitialized resource variables: NaN outputs). Plain variables make the SavedModel
convertible by `tf.lite.TFLiteConverter.from_saved_model` and `tf2onnx` as it is.
"""

import tensorflow as tf

from object_detection.core import fields
from object_detection.core.errors import ConfigError

DET = fields.DetectionResultFields
INPUT_TYPES = ("image_tensor", "float_image_tensor", "encoded_image_string_tensor",
               "tf_example")


def _check_images(images, batch_one):
  """Raises InvalidArgumentError at run time for a batch > 1 (batch_one) or channels != 3."""
  shape = tf.shape(images)
  checks = [tf.debugging.assert_equal(
      shape[3], 3, message="input_tensor: images must have 3 channels (RGB); convert grayscale "
      "or RGBA images first; channels given vs expected:")]
  if batch_one:
    checks.append(tf.debugging.assert_equal(
        shape[0], 1, message="input_tensor: this signature takes one image (batch 1, as the "
        "original's image_tensor); export with --input_type=float_image_tensor for batches; "
        "batch given vs expected:"))
  with tf.control_dependencies(checks):
    return tf.identity(images)


def _decode(encoded):
  image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
  image.set_shape([None, None, 3])
  return image


def _decode_example(serialized):
  parsed = tf.io.parse_single_example(
      serialized, {"image/encoded": tf.io.FixedLenFeature([], tf.string)})
  return _decode(parsed["image/encoded"])


def _plain_variable(variable):
  """The tf.Variable behind a Keras 3 variable (or the variable itself)."""
  inner = getattr(variable, "value", variable)
  if not isinstance(inner, tf.Variable):
    raise TypeError(f"export: variable {variable.path if hasattr(variable, 'path') else variable} "
                    f"is not backed by a tf.Variable (got {type(inner).__name__})")
  return inner


class DetectionModule(tf.Module):
  """Wraps a built, restored DetectionModel; `serving_fn(input_type)` gives a tf.function."""

  def __init__(self, model, label_id_offset=1):
    super().__init__(name="detection_module")
    # Not tracked (see the module docstring): the functions capture the variables below.
    object.__setattr__(self, "model", model)
    self._offset = label_id_offset
    self.track_variables()
    dtype = str(model.compute_dtype)
    # A function (not a string variable, which the LiteRT/ONNX converters would trip on).
    self.compute_dtype = tf.function(lambda: tf.constant(dtype), input_signature=[])

  def track_variables(self):
    """Tracks the model's variables; call again after tracing builds an unbuilt model."""
    self.model_variables = [_plain_variable(v) for v in self.model.variables]

  def _detect(self, images):
    """images: [B, H, W, 3] float32 raw pixels -> exported detection dict (float32)."""
    model = self.model
    preprocessed, true_shapes = model.preprocess(images)
    detections = model.postprocess(
        model.predict(preprocessed, true_shapes, training=False), true_shapes)
    out = {k: tf.cast(v, tf.float32) for k, v in detections.items()}
    out[DET.detection_classes] = out[DET.detection_classes] + self._offset
    return out

  def serving_fn(self, input_type):
    """tf.function with the input signature of `input_type` (see the module docstring)."""
    if input_type == "image_tensor":
      @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8,
                                                  name="input_tensor")])
      def fn(input_tensor):
        return self._detect(tf.cast(_check_images(input_tensor, True), tf.float32))
    elif input_type == "float_image_tensor":
      @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                                  name="input_tensor")])
      def fn(input_tensor):
        return self._detect(_check_images(input_tensor, False))
    elif input_type == "encoded_image_string_tensor":
      @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="input_tensor")])
      def fn(input_tensor):
        images = tf.map_fn(_decode, input_tensor, fn_output_signature=tf.uint8)
        return self._detect(tf.cast(images, tf.float32))
    elif input_type == "tf_example":
      @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="input_tensor")])
      def fn(input_tensor):
        images = tf.map_fn(_decode_example, input_tensor, fn_output_signature=tf.uint8)
        return self._detect(tf.cast(images, tf.float32))
    else:
      raise ConfigError(f"--input_type: unknown input type (got {input_type!r}; expected one "
                        f"of: {', '.join(INPUT_TYPES)})")
    return fn

  def has_box_prompts(self):
    return callable(getattr(self.model, "predict_masks_from_boxes", None))

  def image_and_boxes_fn(self):
    """tf.function (image uint8 [1,H,W,3], boxes float32 [1,N,4]) -> masks for those boxes."""
    @tf.function(input_signature=[
        tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor"),
        tf.TensorSpec([1, None, 4], tf.float32, name="boxes")])
    def fn(input_tensor, boxes):
      images = tf.cast(_check_images(input_tensor, True), tf.float32)
      with tf.control_dependencies([tf.debugging.assert_equal(
          tf.shape(boxes)[0], 1,
          message="boxes: batch must be 1, as input_tensor; batch given vs expected:")]):
        boxes = tf.identity(boxes)
      masks = self.model.predict_masks_from_boxes(images, boxes)
      return {DET.detection_masks: tf.cast(masks, tf.float32),
              DET.detection_boxes: tf.cast(boxes, tf.float32)}
    return fn
