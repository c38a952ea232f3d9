"""Collects config problems as `<field path>: <problem> (got X; expected Y)` lines.

The adapters of `builders/` add every problem they find to one `Problems`; load-time validation
reports them all at once, a build raises them (`raise_if_any`) before constructing anything.
"""

import logging

from object_detection.core.errors import ConfigError, did_you_mean

_LOG = logging.getLogger(__name__)


def short_float(value):
  """Short text of a float field (0.1, not the float32 value 0.10000000149011612)."""
  return f"{value:.6g}"


class Problems:
  """Collects `<path>: <problem>` lines."""

  def __init__(self):
    self.lines = []

  def __bool__(self):
    return bool(self.lines)

  def add(self, path, problem):
    self.lines.append(f"{path}: {problem}")

  def positive(self, message, field, path, allow_unset=False):
    """Requires message.field > 0 (when set, if allow_unset)."""
    if allow_unset and not message.HasField(field):
      return
    value = getattr(message, field)
    if value <= 0:
      self.add(f"{path}.{field}", f"must be positive (got {value}; expected > 0)")

  def registered(self, registry, name, path):
    """Requires `name` in `registry`; returns True when it is (or the registry is empty)."""
    if not registry.names():
      _LOG.debug("%s: registry %r is empty, name %r not checked", path, registry.kind, name)
      return False
    if name not in registry:
      self.add(path, f"unknown {registry.kind} {name!r}{did_you_mean(name, registry.names())} "
               f"(expected one of: {', '.join(registry.names())})")
      return False
    return True

  def raise_if_any(self, source=None):
    """Raises one ConfigError listing every problem (`<source>: ` header when given)."""
    if not self.lines:
      return
    header = f"{source}: invalid config\n" if source and len(self.lines) > 1 else (
        f"{source}: " if source else "")
    raise ConfigError(header + "\n".join(self.lines))
