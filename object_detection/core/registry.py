"""A small registry from the exact names users write in `.config` files to builder callables.

Each registry's docstring (the `doc` argument) says how its entries are called. An unknown name
raises `ConfigError` naming the field path, the known names and the closest match.
"""

from object_detection.core.errors import ConfigError, did_you_mean


class Registry:
  """Maps names (e.g. `hourglass52`) to callables.

  Usage:
    MASK_NETWORKS = Registry("mask network", "fn(params) -> keras.layers.Layer")

    @MASK_NETWORKS.register("hourglass52")
    def _hourglass52(params): ...

    MASK_NETWORKS.get(name, field_path="model.center_net.deepmac_mask_estimation.network_type")
  """

  def __init__(self, kind, doc=""):
    self.kind = kind
    self.doc = doc
    self._entries = {}

  def register(self, *names):
    """Decorator registering the function under one or more names."""
    def wrap(fn):
      for name in names:
        if name in self._entries:
          raise KeyError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = fn
      return fn
    return wrap

  def names(self):
    return sorted(self._entries)

  def __contains__(self, name):
    return name in self._entries

  def get(self, name, field_path=None):
    """Returns the entry for `name`, or raises ConfigError listing the known names."""
    if name not in self._entries:
      where = field_path or self.kind
      raise ConfigError(
          f"{where}: unknown {self.kind} {name!r}{did_you_mean(name, self._entries)} "
          f"(expected one of: {', '.join(self.names())})")
    return self._entries[name]
