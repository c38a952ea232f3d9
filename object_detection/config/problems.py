"""Collects config problems as `<field path>: <problem> (got X; expected Y)` lines."""

import logging

from object_detection.core.errors import did_you_mean

_LOG = logging.getLogger(__name__)


def short_float(value):
  """Short text of a float field (0.1, not the float32 value 0.10000000149011612)."""
  return f"{value:.6g}"


class Problems:
  """Collects `<path>: <problem>` lines."""

  def __init__(self):
    self.lines = []

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
    if not registry.names():
      _LOG.debug("%s: registry %r is empty, name %r not checked", path, registry.kind, name)
      return
    if name not in registry:
      self.add(path, f"unknown {registry.kind} {name!r}{did_you_mean(name, registry.names())} "
               f"(expected one of: {', '.join(registry.names())})")
