"""Shared console-script plumbing: user errors print one line and exit 2, not a traceback."""

import logging
import sys

from object_detection.core.errors import ConfigError, DataError


def run_main(main, configure_logging=True):
  """Calls `main()` (which parses sys.argv and returns an exit code) and exits with it.

  `ConfigError` / `DataError` (bad config, bad input data) are printed as `error: <message>` and
  exit with status 2; anything else is a bug and keeps its traceback.
  """
  if configure_logging:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
  try:
    sys.exit(main())
  except (ConfigError, DataError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
