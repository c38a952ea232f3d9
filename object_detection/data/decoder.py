"""tf.train.Example -> tensor dict, reading the original Object Detection API's keys.

    decoder = TfExampleDecoder(load_instance_masks=True, instance_mask_type="PNG_MASKS",
                               label_map_proto_file="label_map.txt")
    tensors = decoder.decode(serialized_example)      # dict keyed by fields.InputDataFields

Keys read (FEATURES.md §6.1): image/encoded (JPEG or PNG, decoded with 3 channels),
image/height, image/width, image/filename, image/source_id, image/key/sha256,
image/object/bbox/{ymin,xmin,ymax,xmax} (normalized), image/object/class/text (through the label
map, by `name` and by `display_name`, the larger id wins; -1 when unknown) backing off to
image/object/class/label when there is no text, image/object/{weight,is_crowd,area,difficult,
group_of}, image/object/mask (PNG bytes list, or N*H*W float list) and image/object/mask/weight.

Output layout (unbatched; see core/fields.py): image [H, W, 3] uint8, groundtruth_boxes [N, 4]
float32, groundtruth_classes [N] int32 (1-based label ids; -1 = unknown text, filtered by the
input pipeline), groundtruth_weights [N] float32 (1.0 when absent), groundtruth_is_crowd [N] bool,
groundtruth_area [N] float32 (box area in pixels of the image when absent, as the COCO evaluator
computes it), groundtruth_difficult [N] int32, groundtruth_group_of [N] bool,
groundtruth_instance_masks [N, H, W] uint8 {0, 1}, groundtruth_instance_mask_weights [N] float32,
original_image_spatial_shape [2] int32, source_id / filename / key [] string.
"""

import os
import re

import tensorflow as tf

from object_detection.core.errors import ConfigError
from object_detection.core.fields import InputDataFields as F
from object_detection.utils import label_map_util

# InputReader.InstanceMaskType of input_reader.proto.
DEFAULT, NUMERICAL_MASKS, PNG_MASKS = 0, 1, 2
_MASK_TYPE_NAMES = {"DEFAULT": DEFAULT, "NUMERICAL_MASKS": NUMERICAL_MASKS, "PNG_MASKS": PNG_MASKS}


def _mask_type(value):
  if isinstance(value, str):
    if value not in _MASK_TYPE_NAMES:
      raise ConfigError(f"input_reader.mask_type: unknown value {value!r} "
                        f"(expected one of: {', '.join(_MASK_TYPE_NAMES)})")
    return _MASK_TYPE_NAMES[value]
  if int(value) not in (DEFAULT, NUMERICAL_MASKS, PNG_MASKS):
    raise ConfigError(f"input_reader.mask_type: unknown value (got {value}; expected "
                      "DEFAULT=0, NUMERICAL_MASKS=1 or PNG_MASKS=2)")
  return int(value)


def load_label_map_names(label_map_proto_file):
  """Returns ({name: id}, {display_name: id}) of a StringIntLabelMap (path or message)."""
  label_map = label_map_proto_file
  if isinstance(label_map_proto_file, (str, bytes)) or hasattr(label_map_proto_file, "__fspath__"):
    label_map = label_map_util.load_labelmap(os.fsdecode(label_map_proto_file))
  return tuple({name: int(i) for name, i in label_map_util.get_label_map_dict(
      label_map, use_display_name=display).items() if name} for display in (False, True))


def _table(mapping):
  if not mapping:
    return None
  keys = tf.constant(list(mapping.keys()), tf.string)
  values = tf.constant(list(mapping.values()), tf.int64)
  return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), -1)


class TfExampleDecoder:
  """Decodes serialized `tf.train.Example`s written by the original's or our dataset tools.

  Args:
    load_instance_masks: decode image/object/mask into groundtruth_instance_masks.
    instance_mask_type: NUMERICAL_MASKS (1; also DEFAULT=0) = float list of N*H*W values, or
      PNG_MASKS (2) = one PNG per instance. Ints (the proto enum) or the enum names.
    label_map_proto_file: path of a StringIntLabelMap text file (or the message). When given,
      image/object/class/text is mapped to ids; without it class/label is used.
    use_display_name: accepted for compatibility; as the original, both `name` and
      `display_name` are looked up and the larger id is taken.
    num_additional_channels: only 0 is supported (image/additional_channels is not read).
  """

  def __init__(self, load_instance_masks=False, instance_mask_type=NUMERICAL_MASKS,
               label_map_proto_file=None, use_display_name=False, num_additional_channels=0):
    del use_display_name  # both lookups are always done (the original's _ClassTensorHandler)
    if num_additional_channels:
      raise ConfigError("input_reader.num_additional_channels: additional channels are not "
                        f"supported (got {num_additional_channels}; expected 0)")
    self._load_masks = bool(load_instance_masks)
    self._mask_type = _mask_type(instance_mask_type)
    self._name_table = self._display_table = None
    self._has_label_map = label_map_proto_file is not None
    if self._has_label_map:
      names, display_names = load_label_map_names(label_map_proto_file)
      self._name_table = _table(names)
      self._display_table = _table(display_names)
    self._features = self._feature_spec()
    self._graph_decode = None  # built by diagnose() when first needed

  def _feature_spec(self):
    var_float = tf.io.VarLenFeature(tf.float32)
    var_int = tf.io.VarLenFeature(tf.int64)
    spec = {
        "image/encoded": tf.io.FixedLenFeature((), tf.string),
        "image/format": tf.io.FixedLenFeature((), tf.string, default_value="jpeg"),
        "image/filename": tf.io.FixedLenFeature((), tf.string, default_value=""),
        "image/key/sha256": tf.io.FixedLenFeature((), tf.string, default_value=""),
        "image/source_id": tf.io.FixedLenFeature((), tf.string, default_value=""),
        "image/height": tf.io.FixedLenFeature((), tf.int64, default_value=1),
        "image/width": tf.io.FixedLenFeature((), tf.int64, default_value=1),
        "image/object/bbox/xmin": var_float,
        "image/object/bbox/xmax": var_float,
        "image/object/bbox/ymin": var_float,
        "image/object/bbox/ymax": var_float,
        "image/object/class/label": var_int,
        "image/object/class/text": tf.io.VarLenFeature(tf.string),
        "image/object/area": var_float,
        "image/object/is_crowd": var_int,
        "image/object/difficult": var_int,
        "image/object/group_of": var_int,
        "image/object/weight": var_float,
    }
    if self._load_masks:
      spec["image/object/mask"] = tf.io.VarLenFeature(
          tf.string if self._mask_type == PNG_MASKS else tf.float32)
      spec["image/object/mask/weight"] = var_float
    return spec

  def decode(self, serialized):
    """Decodes one serialized example.

    Every per-box list must have one value per box (optional ones may also be empty) and every
    mask the image's size; a record that breaks this raises `InvalidArgumentError` naming the
    key (the input pipeline skips and reports it, see data/record_guard.py).

    Args:
      serialized: [] string, a serialized `tf.train.Example`.
    Returns:
      dict keyed by `fields.InputDataFields` (layout in the module docstring).
    """
    parsed = tf.io.parse_single_example(serialized, self._features)
    dense = {k: tf.sparse.to_dense(v) if isinstance(v, tf.sparse.SparseTensor) else v
             for k, v in parsed.items()}
    image = tf.io.decode_image(dense["image/encoded"], channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    image_hw = tf.shape(image)[:2]
    num_boxes = tf.size(dense["image/object/bbox/ymin"])
    with tf.control_dependencies([self._check_counts(dense, num_boxes, image_hw)]):
      boxes = tf.stack([dense["image/object/bbox/ymin"], dense["image/object/bbox/xmin"],
                        dense["image/object/bbox/ymax"], dense["image/object/bbox/xmax"]], axis=1)
    out = {
        F.image: image,
        F.original_image_spatial_shape: tf.cast(image_hw, tf.int32),
        F.source_id: dense["image/source_id"],
        F.filename: dense["image/filename"],
        F.key: dense["image/key/sha256"],
        F.groundtruth_boxes: boxes,
        F.groundtruth_classes: self._classes(dense, num_boxes),
        F.groundtruth_weights: _or_default(dense["image/object/weight"], tf.ones([num_boxes])),
        F.groundtruth_is_crowd: tf.cast(
            _or_default(dense["image/object/is_crowd"], tf.zeros([num_boxes], tf.int64)), tf.bool),
        F.groundtruth_area: _or_default(dense["image/object/area"], _box_area(boxes, image_hw)),
        F.groundtruth_difficult: tf.cast(
            _or_default(dense["image/object/difficult"], tf.zeros([num_boxes], tf.int64)),
            tf.int32),
        F.groundtruth_group_of: tf.cast(
            _or_default(dense["image/object/group_of"], tf.zeros([num_boxes], tf.int64)), tf.bool),
    }
    if self._load_masks:
      if self._mask_type == PNG_MASKS:
        masks = decode_png_masks(dense["image/object/mask"], image_hw)
      else:
        masks = reshape_numerical_masks(dense["image/object/mask"], image_hw)
      out[F.groundtruth_instance_masks] = masks
      out[F.groundtruth_instance_mask_weights] = _or_default(
          dense["image/object/mask/weight"], tf.ones([tf.shape(masks)[0]]))
    return out

  def _check_counts(self, dense, num_boxes, image_hw):
    """One assertion that every per-box list has a value per box (optional lists: or none).

    The message, built only when the check fails, names the first offending key.
    """
    # (key named in the message, number of values, number expected, required)
    rules = [(key, tf.size(dense[key]), num_boxes, True)
             for key in ("image/object/bbox/xmin", "image/object/bbox/ymax",
                         "image/object/bbox/xmax")]
    rules += [(key, tf.size(dense[key]), num_boxes, False)
              for key in ("image/object/weight", "image/object/is_crowd", "image/object/area",
                          "image/object/difficult", "image/object/group_of")]
    label_size = tf.size(dense["image/object/class/label"])
    if self._has_label_map:  # class/text through the label map, else class/label
      text_size = tf.size(dense["image/object/class/text"])
      rules.append(("image/object/class/text (or class/label)",
                    tf.where(text_size > 0, text_size, label_size), num_boxes, True))
    else:
      rules.append(("image/object/class/label (records with only class/text need "
                    "input_reader.label_map_path)", label_size, num_boxes, True))
    if self._load_masks:
      if self._mask_type == PNG_MASKS:
        rules.append(("image/object/mask", tf.size(dense["image/object/mask"]), num_boxes, True))
      else:
        rules.append(("image/object/mask (numerical: boxes x height x width values)",
                      tf.size(dense["image/object/mask"]),
                      num_boxes * image_hw[0] * image_hw[1], True))
      rules.append(("image/object/mask/weight", tf.size(dense["image/object/mask/weight"]),
                    num_boxes, False))
    names = tf.constant([r[0] for r in rules])
    sizes = tf.stack([r[1] for r in rules])
    expected = tf.stack([r[2] for r in rules])
    required = tf.constant([r[3] for r in rules])
    ok = tf.logical_or(tf.equal(sizes, expected), tf.logical_and(~required, tf.equal(sizes, 0)))
    all_ok = tf.reduce_all(ok)

    def message():
      i = tf.argmin(tf.cast(ok, tf.int32))
      allowed = tf.strings.as_string(expected[i])
      allowed = tf.where(required[i], allowed, tf.strings.join(["0 or ", allowed]))
      return tf.strings.join([names[i], ": ", tf.strings.as_string(sizes[i]), " values for ",
                              tf.strings.as_string(num_boxes), " boxes (expected ", allowed, ")"])

    return tf.debugging.Assert(all_ok, [tf.cond(all_ok, lambda: tf.constant(""), message)])

  def _classes(self, dense, num_boxes):
    del num_boxes  # checked in _check_counts
    labels = tf.cast(dense["image/object/class/label"], tf.int32)
    if not self._has_label_map:
      return labels
    text = dense["image/object/class/text"]
    ids = tf.fill(tf.shape(text), tf.constant(-1, tf.int64))
    for table in (self._name_table, self._display_table):
      if table is not None:
        ids = tf.maximum(ids, table.lookup(text))
    # BackupHandler: the text lookup when the record has class/text, else class/label.
    return tf.cond(tf.size(text) > 0, lambda: tf.cast(ids, tf.int32), lambda: labels)

  def diagnose(self, serialized):
    """Why `decode` fails on this record, as one line; None when it decodes. Eager, slow: for
    the few records the input pipeline skips.

    Args:
      serialized: bytes of one record.
    """
    try:
      tf.train.Example.FromString(bytes(serialized))
    except Exception as e:  # pylint: disable=broad-except (protobuf's DecodeError and others)
      return f"not a tf.train.Example ({type(e).__name__}: {clean_tf_message(str(e)) or 'no detail'})"
    errors = (tf.errors.OpError, ValueError)
    try:
      parsed = tf.io.parse_single_example(serialized, self._features)
    except errors as e:
      return _error_text(e)
    try:
      tf.io.decode_image(parsed["image/encoded"], channels=3, expand_animations=False)
    except errors as e:
      return "image/encoded: " + _error_text(e)
    if self._load_masks and self._mask_type == PNG_MASKS:
      for i, encoded in enumerate(tf.sparse.to_dense(parsed["image/object/mask"]).numpy()):
        try:
          tf.io.decode_image(encoded, channels=1, expand_animations=False)
        except errors as e:
          return f"image/object/mask[{i}]: " + _error_text(e)
    if self._graph_decode is None:  # graph mode: eager map_fn failures log TensorArray noise
      self._graph_decode = tf.function(self.decode, input_signature=[
          tf.TensorSpec([], tf.string)])
    try:
      self._graph_decode(tf.constant(serialized, tf.string))
    except errors as e:
      return _error_text(e)
    return None


def _error_text(error):
  return clean_tf_message(getattr(error, "message", None) or str(error))


def clean_tf_message(text, limit=300):
  """One readable line from a TF error message (no function-node prefix, op suffix, brackets)."""
  lines = [line.strip() for line in str(text).splitlines() if line.strip()]
  if lines and lines[0].startswith(("in user code", "Graph execution error")):
    # Autograph / tf.function: a traceback, then the error on the last line(s).
    lines = [re.sub(r"^\w+Error: ", "", line) for line in lines
             if not line.startswith(("File ", "Detected at node", "[[{{node"))][-1:]
  text = lines[0] if lines else ""
  text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
  text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text)
  text = re.sub(r"\s*\[\[\{\{node .*$", "", text)
  summarized = re.search(r"Summarized data: b(['\"])(.*)\1", text)
  if summarized:  # eager tf.debugging.Assert
    text = summarized.group(2)
  elif text.startswith("assertion failed: "):  # graph tf.debugging.Assert
    text = " ".join(re.findall(r"\[([^\[\]]*)\]", text[len("assertion failed: "):])) or text
  text = text.strip()
  return text if len(text) <= limit else text[:limit - 3] + "..."


def _or_default(values, default):
  """`values` when it has entries, else `default` (the original's optional per-box fields)."""
  return tf.cond(tf.size(values) > 0, lambda: tf.cast(values, default.dtype), lambda: default)


def _box_area(boxes, image_hw):
  hw = tf.cast(image_hw, tf.float32)
  return (boxes[:, 2] - boxes[:, 0]) * hw[0] * (boxes[:, 3] - boxes[:, 1]) * hw[1]


def decode_png_masks(png_masks, image_hw):
  """Decodes a list of PNG instance masks.

  Args:
    png_masks: [N] string, one encoded PNG (1 or more channels) per instance.
    image_hw: [2] int32, (H, W) used for the N == 0 case.
  Returns:
    [N, H, W] uint8, 1 where the PNG's first channel is > 0.
  """
  def decode_all():
    def one(encoded):
      mask = tf.io.decode_image(encoded, channels=1, expand_animations=False)[:, :, 0]
      same_size = tf.reduce_all(tf.equal(tf.shape(mask), image_hw))
      check = tf.debugging.Assert(same_size, [tf.cond(
          same_size, lambda: tf.constant(""), lambda: tf.strings.format(
              "image/object/mask: a mask is {}x{}, the image {}x{} (expected the image size)",
              (tf.shape(mask)[0], tf.shape(mask)[1], image_hw[0], image_hw[1])))])
      with tf.control_dependencies([check]):
        return tf.cast(mask > 0, tf.uint8)
    return tf.map_fn(one, png_masks, fn_output_signature=tf.TensorSpec([None, None], tf.uint8))

  masks = tf.cond(tf.size(png_masks) > 0, decode_all,
                  lambda: tf.zeros(tf.concat([[0], image_hw], 0), tf.uint8))
  masks.set_shape([None, None, None])
  return masks


def reshape_numerical_masks(values, image_hw):
  """[N*H*W] float32 -> [N, H, W] uint8 (1 where > 0)."""
  masks = tf.reshape(values, tf.concat([[-1], image_hw], 0))
  return tf.cast(masks > 0.0, tf.uint8)
