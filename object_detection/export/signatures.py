"""SavedModel serving functions (the original's exporter_lib_v2 detection modules).

`input_type` -> serving_default input:
  image_tensor                 uint8 [1, None, None, 3]   (batch 1, as the original)
  float_image_tensor           float32 [None, None, None, 3]
  encoded_image_string_tensor  string [None] (JPEG/PNG, decoded to 3 channels; same size)
  tf_example                   string [None] serialized tf.train.Example (`image/encoded`)
Outputs (all float32, as the original): detection_boxes [B, K, 4] normalized to the input image,
detection_scores [B, K], detection_classes [B, K] 1-based label ids, num_detections [B], plus
every other postprocess output (detection_masks [B, K, h, w] box-relative probabilities, ...).

The module records the compute dtype it was exported with: `loaded.compute_dtype` is a string
variable, 'float32' or 'bfloat16' (mixed precision: bfloat16 layers, float32 outputs).

Box-prompted signature `image_and_boxes` (models with `predict_masks_from_boxes`):
  (input_tensor uint8 [1, None, None, 3], boxes float32 [1, None, 4] normalized to the image)
  -> detection_masks [1, N, h, w] float32 box-relative probabilities, detection_boxes (echo).
"""

import tensorflow as tf

from object_detection.core import fields
from object_detection.core.errors import ConfigError

DET = fields.DetectionResultFields
INPUT_TYPES = ("image_tensor", "float_image_tensor", "encoded_image_string_tensor",
               "tf_example")


def _decode(encoded):
  image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
  image.set_shape([None, None, 3])
  return image


def _decode_example(serialized):
  parsed = tf.io.parse_single_example(
      serialized, {"image/encoded": tf.io.FixedLenFeature([], tf.string)})
  return _decode(parsed["image/encoded"])


class DetectionModule(tf.Module):
  """Wraps a built, restored DetectionModel; `serving_fn(input_type)` gives a tf.function."""

  def __init__(self, model, label_id_offset=1):
    super().__init__(name="detection_module")
    self.model = model
    self._offset = label_id_offset
    self.compute_dtype = tf.Variable(model.compute_dtype, trainable=False, dtype=tf.string,
                                     name="compute_dtype")

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
        return self._detect(tf.cast(input_tensor, tf.float32))
    elif input_type == "float_image_tensor":
      @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                                  name="input_tensor")])
      def fn(input_tensor):
        return self._detect(input_tensor)
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
      masks = self.model.predict_masks_from_boxes(tf.cast(input_tensor, tf.float32), boxes)
      return {DET.detection_masks: tf.cast(masks, tf.float32),
              DET.detection_boxes: tf.cast(boxes, tf.float32)}
    return fn
