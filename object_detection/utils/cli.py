"""Shared console-script plumbing of the entry points (model_main_tf2, exporter_main_v2,
inference, create_coco_tf_record, create_pascal_tf_record, demo).

Each entry point's `main(argv)` parses its flags with `utils.flags.FlagParser`, then calls
`start(args)`, then imports what needs TensorFlow:

    def main(argv=None):
      args = build_parser().parse_args(argv)
      cli.start(args)                      # logging level, quiet TensorFlow import
      from object_detection import model_lib
      ...

    def run():                             # the console script
      cli.run_main(main)

`run_main` turns user errors into one line and exit status 2; `start` sets the log level from
`--verbosity` and imports TensorFlow without its start-up noise (utils/tf_startup.py).
"""

import logging
import sys

from object_detection.core.errors import ConfigError, DataError
from object_detection.utils import tf_startup

_state = {"configure_logging": False}


def python_log_level(verbosity):
  """absl's --verbosity -> a logging level: 1+ DEBUG, 0 INFO, -1 WARNING, -2 ERROR, less FATAL."""
  if verbosity >= 1:
    return logging.DEBUG
  return {0: logging.INFO, -1: logging.WARNING, -2: logging.ERROR}.get(verbosity, logging.FATAL)


def start(args):
  """After flag parsing: the log level (console scripts only) and a quiet TensorFlow import."""
  verbosity = getattr(args, "verbosity", 0)
  if _state["configure_logging"]:
    level = python_log_level(verbosity)
    logging.basicConfig(level=level, format="%(message)s")
    logging.getLogger().setLevel(level)
    # TensorFlow's Python INFO lines (absl's "Sharding callback duration: 237 microseconds" at
    # every checkpoint save) are noise unless debugging.
    for name in ("tensorflow", "absl"):
      logging.getLogger(name).setLevel(max(level, logging.WARNING) if verbosity < 1 else level)
  return tf_startup.import_tensorflow(verbosity)


def run_main(main, configure_logging=True):
  """Calls `main()` (which parses sys.argv and returns an exit code) and exits with it.

  `configure_logging`: `start` sets up Python logging on stderr at the --verbosity level.
  `ConfigError` / `DataError` (bad config, bad input data) are printed as `error: <message>` and
  exit with status 2; anything else is a bug and keeps its traceback.
  """
  _state["configure_logging"] = configure_logging
  try:
    sys.exit(main())
  except (ConfigError, DataError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
