"""Text-format parsing with errors a user can act on.

protobuf's parser reports `line:col : <message>`; this module prefixes the file name and rewrites
the common messages: an unknown field gets a "did you mean" from the message's field names, a bad
enum value lists the allowed values, a wrong scalar names the field and the expected type.

  configs/x.config:12:5: no field "num_clases" in CenterNet (did you mean "num_classes"?)
"""

import logging
import re

from google.protobuf import descriptor_pool
from google.protobuf import text_format

from object_detection.core.errors import ConfigError, did_you_mean

_LOG = logging.getLogger(__name__)

_LOCATION = re.compile(r"^(\d+):(\d+) : (.*)$", re.S)
_NO_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "(\w+)"')
_BAD_ENUM = re.compile(r'Enum type "([\w.]+)" has no value named (\S+?)\.?$')
_BAD_ENUM_NUMBER = re.compile(r'Enum type "([\w.]+)" has no value with number (-?\d+)')
_ONEOF_CONFLICT = re.compile(r'Field "(\w+)" is specified along with field "(\w+)", another member '
                             r'of oneof "(\w+)" for message type "([\w.]+)"')
_DUPLICATE = re.compile(r'Message type "([\w.]+)" should not have multiple "(\w+)" fields')
_ECHO = re.compile(r"^'.*?': ", re.S)  # protobuf echoes the offending line in quotes
_FIELD_BEFORE = re.compile(r"([A-Za-z_]\w*)\s*:\s*$")
_EXPECTED_TYPE = (
    ("Couldn't parse integer", "an integer"),
    ("Couldn't parse float", "a number"),
    ("Value out of range", "a value in the field's range"),
    ('Expected "true" or "false"', "true or false"),
    ("Expected string", "a quoted string"),
)


def _short(full_name):
  return full_name.rsplit(".", 1)[-1]


def _field_at(lines, line, col):
  """Name of the field whose value starts at 1-based (line, col), or None."""
  if not 1 <= line <= len(lines):
    return None
  match = _FIELD_BEFORE.search(lines[line - 1][:max(col - 1, 0)])
  return match.group(1) if match else None


def _value_at(lines, line, col):
  """The token at 1-based (line, col) (a quoted string is kept whole)."""
  if not 1 <= line <= len(lines):
    return ""
  rest = lines[line - 1][max(col - 1, 0):]
  match = re.match(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[^\s{}<>;,\]]+', rest)
  return match.group(0) if match else rest.strip()


def _rewrite(problem, lines, line, col):
  """Turns protobuf's parse message into ours (without the location)."""
  pool = descriptor_pool.Default()
  match = _NO_FIELD.search(problem)
  if match:
    type_name, field = match.groups()
    try:
      known = [f.name for f in pool.FindMessageTypeByName(type_name).fields]
    except KeyError:
      known = []
    hint = did_you_mean(field, known)
    if not hint and known:
      hint = f" (expected one of: {', '.join(sorted(known))})"
    return f'no field "{field}" in {_short(type_name)}{hint}'
  for pattern in (_BAD_ENUM, _BAD_ENUM_NUMBER):
    match = pattern.search(problem)
    if match:
      type_name, value = match.groups()
      try:
        allowed = [v.name for v in pool.FindEnumTypeByName(type_name).values]
      except KeyError:
        allowed = []
      field = _field_at(lines, line, col)
      where = f'field "{field}"' if field else f"enum {_short(type_name)}"
      return (f"bad value for {where}{did_you_mean(value, allowed)} "
              f"(got {value}; expected one of: {', '.join(allowed)})")
  for marker, expected in _EXPECTED_TYPE:
    if marker in problem:
      field = _field_at(lines, line, col)
      where = f'field "{field}"' if field else "value"
      return f"wrong value for {where} (got {_value_at(lines, line, col)}; expected {expected})"
  return _ECHO.sub("", problem).strip()


def parse_text(text, message, source="<string>"):
  """Merges text-format `text` into `message` and returns `message`.

  Merge semantics (a repeated singular field keeps its last value), as the original loader does,
  so every config it accepted loads here too.

  Args:
    text: text-format proto (str or bytes, UTF-8).
    message: the protobuf message to fill (modified in place).
    source: name used in error messages (a file path, "--config_override", ...).

  Returns:
    `message`.

  Raises:
    ConfigError: `<source>:<line>:<col>: <problem>`.
  """
  if isinstance(text, bytes):
    try:
      text = text.decode("utf-8")
    except UnicodeDecodeError as e:
      raise ConfigError(f"{source}: not UTF-8 text ({e})") from e
  lines = text.splitlines()
  # A strict parse first, only to catch two members of one oneof in one block (e.g. two
  # augmentations in one data_augmentation_options): Merge would silently keep the last one.
  try:
    text_format.Parse(text, type(message)())
  except text_format.ParseError as e:
    _check_strict_error(e, lines, source)
  try:
    text_format.Merge(text, message)
  except text_format.ParseError as e:
    raise _config_error(e, lines, source) from e
  return message


def _config_error(error, lines, source):
  raw = str(error)
  match = _LOCATION.match(raw)
  if not match:
    return ConfigError(f"{source}: {_ECHO.sub('', raw).strip()}")
  line, col, problem = int(match.group(1)), int(match.group(2)), match.group(3)
  return ConfigError(f"{source}:{line}:{col}: {_rewrite(problem, lines, line, col)}")


def _check_strict_error(error, lines, source):
  """Raises for a oneof conflict, warns for a repeated singular field, ignores the rest
  (Merge reports those with the same message)."""
  raw = str(error)
  match = _LOCATION.match(raw)
  where = f"{source}:{match.group(1)}:{match.group(2)}" if match else source
  conflict = _ONEOF_CONFLICT.search(raw)
  if conflict:
    second, first, oneof, type_name = conflict.groups()
    hint = ("; each augmentation goes in its own data_augmentation_options block"
            if _short(type_name) == "PreprocessingStep" else "")
    raise ConfigError(
        f'{where}: "{second}" and "{first}" are both set in one {_short(type_name)} block but '
        f'are alternatives of oneof "{oneof}" (got both; expected one{hint})') from error
  duplicate = _DUPLICATE.search(raw)
  if duplicate:
    _LOG.warning('%s: "%s" is set more than once in %s; the last value is used', where,
                 duplicate.group(2), _short(duplicate.group(1)))


def to_text(message):
  """Text format of `message` (what `save_pipeline_config` writes)."""
  return text_format.MessageToString(message)
