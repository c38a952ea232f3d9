"""Small synthetic `tf.train.Example`s with the original's keys (tests, benchmarks, smoke runs).

    example = make_example(image, boxes, class_texts=["cat"], masks=masks, mask_type="PNG_MASKS")
    write_tfrecord(path, [example.SerializeToString()])
"""

import hashlib
import io

import numpy as np
import tensorflow as tf
from PIL import Image

from object_detection.dataset_tools import dataset_util


def encode_png(array):
  """[H, W] or [H, W, C] uint8 -> PNG bytes."""
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(array, np.uint8)).save(buffer, format="PNG")
  return buffer.getvalue()


def encode_jpeg(array, quality=95):
  """[H, W, 3] uint8 -> JPEG bytes."""
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(array, np.uint8)).save(buffer, format="JPEG", quality=quality)
  return buffer.getvalue()


def make_example(image, boxes=(), class_labels=None, class_texts=None, masks=None,
                 mask_type="PNG_MASKS", image_format="png", source_id="0", is_crowd=None,
                 area=None, weights=None):
  """Builds a `tf.train.Example` as the original's dataset tools write it.

  Args:
    image: [H, W, 3] uint8 array.
    boxes: [N, 4] normalized [ymin, xmin, ymax, xmax].
    class_labels: [N] ints (image/object/class/label) or None (key left out).
    class_texts: [N] str (image/object/class/text) or None (key left out).
    masks: [N, H, W] {0, 1} array or None. PNG_MASKS writes one PNG per instance,
      NUMERICAL_MASKS the flattened float list.
    mask_type: "PNG_MASKS" or "NUMERICAL_MASKS".
    image_format: "png" (lossless, pixel-exact tests) or "jpeg".
    source_id: str. is_crowd / area / weights: optional [N] lists.
  Returns:
    tf.train.Example.
  """
  image = np.asarray(image, np.uint8)
  encoded = encode_png(image) if image_format == "png" else encode_jpeg(image)
  boxes = np.asarray(boxes, np.float32).reshape([-1, 4])
  f = dataset_util
  feature = {
      "image/encoded": f.bytes_feature(encoded),
      "image/format": f.bytes_feature(image_format),
      "image/height": f.int64_feature(image.shape[0]),
      "image/width": f.int64_feature(image.shape[1]),
      "image/filename": f.bytes_feature(f"{source_id}.{image_format}"),
      "image/source_id": f.bytes_feature(str(source_id)),
      "image/key/sha256": f.bytes_feature(hashlib.sha256(encoded).hexdigest()),
      "image/object/bbox/ymin": f.float_list_feature(boxes[:, 0]),
      "image/object/bbox/xmin": f.float_list_feature(boxes[:, 1]),
      "image/object/bbox/ymax": f.float_list_feature(boxes[:, 2]),
      "image/object/bbox/xmax": f.float_list_feature(boxes[:, 3]),
  }
  if class_labels is not None:
    feature["image/object/class/label"] = f.int64_list_feature(class_labels)
  if class_texts is not None:
    feature["image/object/class/text"] = f.bytes_list_feature(class_texts)
  if is_crowd is not None:
    feature["image/object/is_crowd"] = f.int64_list_feature(is_crowd)
  if area is not None:
    feature["image/object/area"] = f.float_list_feature(area)
  if weights is not None:
    feature["image/object/weight"] = f.float_list_feature(weights)
  if masks is not None:
    masks = np.asarray(masks, np.uint8).reshape([-1] + list(image.shape[:2]))
    if mask_type == "PNG_MASKS":
      feature["image/object/mask"] = f.bytes_list_feature([encode_png(m) for m in masks])
    elif mask_type == "NUMERICAL_MASKS":
      feature["image/object/mask"] = f.float_list_feature(masks.reshape([-1]).astype(np.float32))
    else:
      raise ValueError(f"make_example: unknown mask_type {mask_type!r} "
                       "(expected PNG_MASKS or NUMERICAL_MASKS)")
  return tf.train.Example(features=tf.train.Features(feature=feature))


def box_masks(boxes, height, width):
  """[N, H, W] uint8 masks filling each normalized box (pixel centres inside the box)."""
  boxes = np.asarray(boxes, np.float32).reshape([-1, 4])
  ys = (np.arange(height) + 0.5) / height
  xs = (np.arange(width) + 0.5) / width
  inside_y = (ys[None, :] >= boxes[:, 0:1]) & (ys[None, :] <= boxes[:, 2:3])
  inside_x = (xs[None, :] >= boxes[:, 1:2]) & (xs[None, :] <= boxes[:, 3:4])
  return (inside_y[:, :, None] & inside_x[:, None, :]).astype(np.uint8)


def write_tfrecord(path, serialized_examples):
  """Writes serialized examples to one TFRecord file."""
  with tf.io.TFRecordWriter(str(path)) as writer:
    for record in serialized_examples:
      writer.write(record)
