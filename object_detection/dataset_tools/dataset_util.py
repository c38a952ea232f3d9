"""Helpers that build `tf.train.Feature`s and read the small text/XML files dataset tools need.

Names follow the original Object Detection API (`utils/dataset_util.py`), so scripts written for it
keep working: `int64_feature`, `int64_list_feature`, `bytes_feature`, `bytes_list_feature`,
`float_feature`, `float_list_feature`, `read_examples_list`, `recursive_parse_xml_to_dict`.
`make_tf_example` writes the original's `image/...` keys from plain Python values.
"""

import tensorflow as tf


def int64_feature(value):
  """One int64 (a Python int or bool) as a `tf.train.Feature`."""
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def int64_list_feature(value):
  """A sequence of ints as a `tf.train.Feature`."""
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in value]))


def bytes_feature(value):
  """One bytes value (a `str` is UTF-8 encoded) as a `tf.train.Feature`."""
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[_as_bytes(value)]))


def bytes_list_feature(value):
  """A sequence of bytes values (`str` items are UTF-8 encoded) as a `tf.train.Feature`."""
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[_as_bytes(v) for v in value]))


def float_feature(value):
  """One float as a `tf.train.Feature` (stored as float32)."""
  return tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))


def float_list_feature(value):
  """A sequence of floats as a `tf.train.Feature` (stored as float32)."""
  return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in value]))


def _as_bytes(value):
  if isinstance(value, str):
    return value.encode("utf8")
  if isinstance(value, (bytes, bytearray)):
    return bytes(value)
  raise TypeError(f"dataset_util: bytes feature value must be str or bytes (got {type(value).__name__})")


def read_examples_list(path):
  """Reads an example-id list such as VOC's `ImageSets/Main/aeroplane_train.txt`.

  Each non-empty line is `<id>` or `<id> <label>`; only the first whitespace-separated token is kept
  (as the original does).

  Returns:
    list of str ids, in file order.
  """
  with tf.io.gfile.GFile(path) as f:
    lines = f.readlines()
  return [line.split()[0] for line in lines if line.strip()]


def recursive_parse_xml_to_dict(xml):
  """Turns an lxml/ElementTree element into nested dicts, as the original does for VOC xml.

  A leaf becomes `{tag: text}`; children whose tag is `object` are always collected into a list
  (an image may have one or many objects); other repeated tags keep the last value.

  Args:
    xml: an element from `lxml.etree.fromstring` (or `xml.etree.ElementTree`).

  Returns:
    dict `{xml.tag: value}`.
  """
  if len(xml) == 0:
    return {xml.tag: xml.text if xml.text is not None else ""}
  result = {}
  for child in xml:
    child_result = recursive_parse_xml_to_dict(child)
    if child.tag == "object":
      result.setdefault(child.tag, []).append(child_result[child.tag])
    else:
      result[child.tag] = child_result[child.tag]
  return {xml.tag: result}


def make_tf_example(*, encoded_image, image_format, height, width, filename, source_id, sha256,
                    boxes=(), class_labels=(), class_texts=(), is_crowd=None, area=None,
                    masks_png=None, difficult=None, truncated=None, view=None):
  """Builds a `tf.train.Example` with the original's `image/...` keys.

  Args:
    encoded_image: bytes, the encoded image file as stored on disk (not re-encoded).
    image_format: str, "jpeg" or "png" (`image/format`).
    height, width: int, image size in pixels.
    filename: str, `image/filename`.
    source_id: str, `image/source_id` (COCO: the image id as a decimal string).
    sha256: str, hex digest of `encoded_image` (`image/key/sha256`).
    boxes: [N, 4] floats, normalized [ymin, xmin, ymax, xmax] in [0, 1] (written as the four
      `image/object/bbox/{ymin,xmin,ymax,xmax}` lists).
    class_labels: [N] ints, the dataset's own 1-based class ids (`image/object/class/label`).
    class_texts: [N] str, class names (`image/object/class/text`).
    is_crowd: optional [N] bools (`image/object/is_crowd`).
    area: optional [N] floats, instance area in pixels (`image/object/area`).
    masks_png: optional [N] bytes, one PNG per instance, uint8 values 0/1 at image size
      (`image/object/mask`). None leaves the key out; an empty list writes an empty key.
    difficult, truncated: optional [N] ints (`image/object/difficult`, `image/object/truncated`).
    view: optional [N] str (`image/object/view`, VOC's pose).

  Returns:
    tf.train.Example.
  """
  boxes = [tuple(b) for b in boxes]
  feature = {
      "image/height": int64_feature(height),
      "image/width": int64_feature(width),
      "image/filename": bytes_feature(filename),
      "image/source_id": bytes_feature(source_id),
      "image/key/sha256": bytes_feature(sha256),
      "image/encoded": bytes_feature(encoded_image),
      "image/format": bytes_feature(image_format),
      "image/object/bbox/ymin": float_list_feature([b[0] for b in boxes]),
      "image/object/bbox/xmin": float_list_feature([b[1] for b in boxes]),
      "image/object/bbox/ymax": float_list_feature([b[2] for b in boxes]),
      "image/object/bbox/xmax": float_list_feature([b[3] for b in boxes]),
      "image/object/class/label": int64_list_feature(class_labels),
      "image/object/class/text": bytes_list_feature(class_texts),
  }
  optional = {
      "image/object/is_crowd": (is_crowd, int64_list_feature),
      "image/object/area": (area, float_list_feature),
      "image/object/mask": (masks_png, bytes_list_feature),
      "image/object/difficult": (difficult, int64_list_feature),
      "image/object/truncated": (truncated, int64_list_feature),
      "image/object/view": (view, bytes_list_feature),
  }
  for key, (value, make) in optional.items():
    if value is not None:
      feature[key] = make(value)
  return tf.train.Example(features=tf.train.Features(feature=feature))
