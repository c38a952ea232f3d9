"""Command-line style overrides of a TrainEvalPipelineConfig.

Two forms:
- `key=value` with a dotted field path from the pipeline root:
    model.center_net.num_classes=3
    train_config.batch_size=8
    model.center_net.deepmac_mask_estimation.allowed_masked_classes_ids=1,2,3
    eval_input_reader[0].tf_record_input_reader.input_path=/data/val-*.tfrecord
  A repeated scalar takes a comma-separated list (replacing the old values; an empty value clears
  it). A repeated message needs an index `[i]`, except when it holds exactly one element. Entering
  a message of a oneof selects that branch. Enum values are given by name.
- text-format overrides (the original's `config_override`), merged into the pipeline: scalars are
  replaced, repeated fields are appended (protobuf merge semantics).
"""

import re

from google.protobuf import descriptor

from object_detection.config.text_parse import parse_text
from object_detection.core.errors import ConfigError, did_you_mean

_STEP = re.compile(r"^([A-Za-z_]\w*)(?:\[(\d+)\])?$")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
_INT_TYPES = (descriptor.FieldDescriptor.TYPE_INT32, descriptor.FieldDescriptor.TYPE_INT64,
              descriptor.FieldDescriptor.TYPE_UINT32, descriptor.FieldDescriptor.TYPE_UINT64,
              descriptor.FieldDescriptor.TYPE_SINT32, descriptor.FieldDescriptor.TYPE_SINT64,
              descriptor.FieldDescriptor.TYPE_FIXED32, descriptor.FieldDescriptor.TYPE_FIXED64,
              descriptor.FieldDescriptor.TYPE_SFIXED32, descriptor.FieldDescriptor.TYPE_SFIXED64)
_FLOAT_TYPES = (descriptor.FieldDescriptor.TYPE_FLOAT, descriptor.FieldDescriptor.TYPE_DOUBLE)


def _is_repeated(field):
  # protobuf >= 5 has is_repeated; older versions only `label`.
  flag = getattr(field, "is_repeated", None)
  if flag is not None:
    return flag
  return field.label == descriptor.FieldDescriptor.LABEL_REPEATED


def _field(message, name, path):
  fields = message.DESCRIPTOR.fields_by_name
  if name not in fields:
    raise ConfigError(f'{path}: no field "{name}" in {message.DESCRIPTOR.name}'
                      f"{did_you_mean(name, fields)}")
  return fields[name]


_F = descriptor.FieldDescriptor
_INT32_TYPES = (_F.TYPE_INT32, _F.TYPE_SINT32, _F.TYPE_SFIXED32, _F.TYPE_UINT32, _F.TYPE_FIXED32)
_UNSIGNED_TYPES = (_F.TYPE_UINT32, _F.TYPE_UINT64, _F.TYPE_FIXED32, _F.TYPE_FIXED64)


def _int_range(kind):
  """(low, high) of a protobuf integer type."""
  bits = 32 if kind in _INT32_TYPES else 64
  if kind in _UNSIGNED_TYPES:
    return 0, (1 << bits) - 1
  return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def convert_scalar(field, text, path):
  """Converts override text to the Python value of a scalar (or enum) field."""
  text = text.strip()
  kind = field.type
  try:
    if kind in _INT_TYPES:
      value = int(text)
      if kind in (descriptor.FieldDescriptor.TYPE_UINT32, descriptor.FieldDescriptor.TYPE_UINT64,
                  descriptor.FieldDescriptor.TYPE_FIXED32,
                  descriptor.FieldDescriptor.TYPE_FIXED64) and value < 0:
        raise ValueError("negative")
      low, high = _int_range(kind)
      if not low <= value <= high:
        raise ConfigError(f"{path}: out of range (got {text}; expected an integer in "
                          f"[{low}, {high}])")
      return value
    if kind in _FLOAT_TYPES:
      return float(text)
  except ValueError:
    expected = "a non-negative integer" if kind in _INT_TYPES else "a number"
    raise ConfigError(f"{path}: wrong value (got {text!r}; expected {expected})") from None
  if kind == descriptor.FieldDescriptor.TYPE_BOOL:
    if text.lower() in _TRUE:
      return True
    if text.lower() in _FALSE:
      return False
    raise ConfigError(f"{path}: wrong value (got {text!r}; expected true or false)")
  if kind == descriptor.FieldDescriptor.TYPE_ENUM:
    names = [v.name for v in field.enum_type.values]
    if text not in field.enum_type.values_by_name:
      raise ConfigError(f"{path}: bad enum value{did_you_mean(text, names)} "
                        f"(got {text!r}; expected one of: {', '.join(names)})")
    return field.enum_type.values_by_name[text].number
  if kind == descriptor.FieldDescriptor.TYPE_STRING:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
      text = text[1:-1]
    return text
  if kind == descriptor.FieldDescriptor.TYPE_BYTES:
    return text.encode("utf-8")
  raise ConfigError(f"{path}: a message cannot be set from a value (got {text!r}; expected a "
                    "path down to a scalar field, or a text-format override)")


def _walk(pipeline, steps, path):
  """Returns (message holding the last field, last field descriptor)."""
  message = pipeline
  walked = []
  for position, step in enumerate(steps):
    match = _STEP.match(step)
    if not match:
      raise ConfigError(f"{path}: bad path element {step!r} (expected name or name[index])")
    name, index = match.group(1), match.group(2)
    walked.append(step)
    here = ".".join(walked)
    field = _field(message, name, here)
    last = position == len(steps) - 1
    if last and index is None:
      return message, field
    if field.type != descriptor.FieldDescriptor.TYPE_MESSAGE:
      raise ConfigError(f"{here}: not a message, cannot go further (got {path!r}; expected the "
                        f"path to end at {name})")
    if _is_repeated(field):
      items = getattr(message, name)
      if index is None:
        if len(items) != 1:
          raise ConfigError(f"{here}: repeated field with {len(items)} elements needs an index "
                            f"(got {name}; expected {name}[0] .. {name}[{max(len(items) - 1, 0)}])")
        message = items[0]
      else:
        position_in_list = int(index)
        if position_in_list == len(items):
          message = items.add()  # appending one element is allowed
        elif position_in_list > len(items):
          raise ConfigError(f"{here}: index out of range (got {position_in_list}; expected 0.."
                            f"{len(items)})")
        else:
          message = items[position_in_list]
      if last:
        raise ConfigError(f"{here}: a message cannot be set from a value (expected a path down "
                          "to a scalar field)")
    else:
      if index is not None:
        raise ConfigError(f"{here}: not a repeated field (got index [{index}]; expected {name})")
      message = getattr(message, name)
      message.SetInParent()  # selects the oneof branch / marks presence
  raise ConfigError(f"{path}: empty path")


def set_field(pipeline, key, value_text):
  """Sets the field at dotted path `key` from its text value (see the module docstring)."""
  key = key.strip()
  if not key:
    raise ConfigError(f"override {key}={value_text}: empty field path")
  message, field = _walk(pipeline, key.split("."), key)
  if _is_repeated(field):
    if field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
      raise ConfigError(f"{key}: repeated message field cannot be set from a value (expected "
                        f"{key}[index].<field>=value, or a text-format override)")
    items = [t for t in value_text.split(",") if t.strip()]
    values = [convert_scalar(field, t, key) for t in items]
    message.ClearField(field.name)
    getattr(message, field.name).extend(values)
  else:
    setattr(message, field.name, convert_scalar(field, value_text, key))
  return pipeline


def parse_key_value(override):
  """Splits `"a.b=c"` into `("a.b", "c")`."""
  if "=" not in override:
    raise ConfigError(f"override {override!r}: missing '=' (expected field.path=value, e.g. "
                      "train_config.batch_size=8)")
  key, value = override.split("=", 1)
  return key.strip(), value


def apply_overrides(pipeline, overrides):
  """Applies a list of `key=value` strings (or a dict key -> value) to `pipeline`, in order."""
  if isinstance(overrides, dict):
    items = [(k, v if isinstance(v, str) else _to_text(v)) for k, v in overrides.items()]
  else:
    items = [parse_key_value(o) for o in overrides]
  for key, value in items:
    set_field(pipeline, key, value)
  return pipeline


def _to_text(value):
  if isinstance(value, bool):
    return "true" if value else "false"
  if isinstance(value, (list, tuple)):
    return ",".join(_to_text(v) for v in value)
  return str(value)


def merge_text_override(pipeline, text, source="config_override"):
  """Merges a text-format TrainEvalPipelineConfig fragment into `pipeline`."""
  fragment = type(pipeline)()
  parse_text(text, fragment, source)
  pipeline.MergeFrom(fragment)
  return pipeline
