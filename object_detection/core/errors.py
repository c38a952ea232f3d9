"""Error types users see. Messages follow `<where>: <problem> (got <value>; expected <allowed>)`."""

import difflib


class ConfigError(ValueError):
  """A pipeline config (or override) that cannot be used.

  The message starts with where the problem is: `file:line:col` for syntax errors, the field path
  (`model.center_net.deepmac_mask_estimation.network_type`) for semantic ones.
  """


class DataError(ValueError):
  """Input data (a TFRecord, an annotation file, an image) that cannot be used."""


def did_you_mean(name, known):
  """Returns ` (did you mean "x"?)` for the closest known name, or "" when nothing is close."""
  close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
  return f' (did you mean "{close[0]}"?)' if close else ""


class ExportError(ConfigError):
  """A model that cannot be exported in the requested format (an op a converter or runtime lacks).

  A ConfigError: the fix is another output format, input type or model config.
  """
