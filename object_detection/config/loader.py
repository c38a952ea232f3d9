"""Pipeline config files -> validated TrainEvalPipelineConfig, and back to disk.

  pipeline = load_pipeline_config("configs/tf2/center_net_deepmac_512x512_voc_only_tpu-32.config",
                                  overrides=["train_config.batch_size=8"])
  save_pipeline_config(pipeline, model_dir)   # writes model_dir/pipeline.config atomically

Order of operations: parse the file, merge the text-format override, apply `key=value`
overrides, normalise aliases (normalize.py), validate (validation.py).
"""

import os
import tempfile

from object_detection.config import deviations
from object_detection.config import normalize as normalize_lib
from object_detection.config import overrides as overrides_lib
from object_detection.config import validation
from object_detection.config import value_checks
from object_detection.config.text_parse import parse_text, to_text
from object_detection.core.errors import ConfigError
from object_detection.protos import pipeline_pb2

PIPELINE_FILE_NAME = "pipeline.config"


def _is_remote(path):
  """gs://, s3://, file:// ... paths go through tf.io.gfile (as in the original)."""
  return "://" in path


def read_bytes(path, what="config file"):
  """Bytes of a local or tf.io.gfile path; failures raise ConfigError with the reason."""
  path = os.fspath(path)
  if _is_remote(path):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    try:
      with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()
    except (tf.errors.OpError, OSError) as e:
      reason = getattr(e, "message", None) or str(e)
      raise ConfigError(f"{path}: cannot read {what} ({reason})") from e
  try:
    with open(path, "rb") as f:
      return f.read()
  except OSError as e:
    raise ConfigError(f"{path}: cannot read {what} ({e.strerror or e})") from e


def read_text(path):
  """Returns the text of `path`; an unreadable file raises ConfigError with the OS reason."""
  data = read_bytes(path)
  try:
    return data.decode("utf-8")
  except UnicodeDecodeError as e:
    raise ConfigError(f"{path}: not a UTF-8 text file ({e})") from e


def parse_pipeline_text(text, source="<string>"):
  """Text-format TrainEvalPipelineConfig -> message (no normalisation, no validation)."""
  return parse_text(text, pipeline_pb2.TrainEvalPipelineConfig(), source)


def finalize(pipeline, validate=True, check_registries=True, source=None):
  """Normalises aliases then validates `pipeline` in place; warns about the deliberate
  differences from the original that affect it (config/deviations.py); returns it."""
  normalize_lib.normalize(pipeline)
  if validate:
    value_checks.validate(pipeline, source=source)  # non-finite / out-of-range numbers first
    validation.validate(pipeline, check_registries=check_registries, source=source)
    deviations.warn_about(pipeline, source)
  return pipeline


def load_pipeline_config(path, config_override=None, overrides=None, validate=True,
                         check_registries=True):
  """Reads, overrides, normalises and validates a pipeline config file.

  Args:
    path: text-format TrainEvalPipelineConfig file.
    config_override: optional text-format fragment merged into the file's config.
    overrides: optional list of `field.path=value` strings (or a dict), applied last.
    validate: run the semantic checks.
    check_registries: check registry names (feature extractors, network_type).

  Returns:
    TrainEvalPipelineConfig.

  Raises:
    ConfigError: unreadable file, syntax error (`path:line:col: ...`), bad override or
      semantic problem (`field.path: ...`).
  """
  path = os.fspath(path)
  pipeline = parse_pipeline_text(read_text(path), path)
  if config_override:
    overrides_lib.merge_text_override(pipeline, config_override)
  if overrides:
    overrides_lib.apply_overrides(pipeline, overrides)
  return finalize(pipeline, validate=validate, check_registries=check_registries, source=path)


def save_pipeline_config(pipeline, directory, file_name=PIPELINE_FILE_NAME):
  """Writes `pipeline` as text to `directory/file_name` atomically (temp file + rename).

  A reader never sees a half-written file: the text goes to a temporary file in the same
  directory, which then replaces the target with os.replace.

  Returns:
    The path written.
  """
  directory = os.fspath(directory)
  text = to_text(pipeline)
  if _is_remote(directory):
    return _save_with_gfile(text, directory, file_name)
  os.makedirs(directory, exist_ok=True)
  target = os.path.join(directory, file_name)
  fd, tmp = tempfile.mkstemp(prefix=f".{file_name}.", suffix=".tmp", dir=directory)
  try:
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, target)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return target


def _save_with_gfile(text, directory, file_name):
  """save_pipeline_config for gs:// (etc.) directories: temp object + rename with overwrite."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  tf.io.gfile.makedirs(directory)
  target = f"{directory.rstrip('/')}/{file_name}"
  tmp = f"{directory.rstrip('/')}/.{file_name}.{os.getpid()}.tmp"
  with tf.io.gfile.GFile(tmp, "w") as f:
    f.write(text)
  tf.io.gfile.rename(tmp, target, overwrite=True)
  return target
