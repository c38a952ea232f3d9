"""Makes Keras 3 lists/dicts of layers visible to `tf.train.Checkpoint`.

Keras 3 wraps list attributes of a layer (`self.blocks = [...]`) in its own TrackedList, which
Keras' weight tracking sees (trainable_variables, model.save_weights) but TensorFlow's object
graph does not: `tf.train.Checkpoint(model=...)` silently skips every layer held in a list.
Layers that keep sublayers in lists inherit `CheckpointableCollections` first, which exposes
each such list (dict) as a TF ListWrapper (DictWrapper) child under the attribute's name, so the
checkpoint keys read `.../hourglass_network/0/...` as in the original's Keras 2 object graph.

Restore into a *built* model (run it once first, as the original's train loop does before
loading a fine-tune checkpoint): Keras 3 does not apply deferred restorations to layers reached
through these collections before they build.
"""

import tensorflow as tf
from keras.src.utils import tracking as keras_tracking


class CheckpointableCollections:
  """Mixin for keras.layers.Layer subclasses holding sublayers in lists or dicts."""

  def _trackable_children(self, save_type="checkpoint", **kwargs):
    children = super()._trackable_children(save_type, **kwargs)
    if save_type != "checkpoint":
      return children
    for name in getattr(self, "_tracked", ()):
      value = getattr(self, name, None)
      if name not in children:
        wrapper = _wrapper_or_none(self, name, value)
        if wrapper is not None:
          children[name] = wrapper
    return children

  def _lookup_dependency(self, name, cached_dependencies=None):
    # Restore walks the object graph by name: answer for the collections exposed above.
    if name in getattr(self, "_tracked", ()):
      wrapper = _wrapper_or_none(self, name, getattr(self, name, None))
      if wrapper is not None:
        return wrapper
    return super()._lookup_dependency(name, cached_dependencies)


def _wrapper_or_none(owner, name, value):
  """The TF wrapper of a non-empty Keras list/dict of trackables (layers), else None.

  One wrapper per attribute, rebuilt only when the members change: restore matches children by
  identity across calls. Keras' own bookkeeping collections (strings, empty lists) are skipped.
  """
  if isinstance(value, keras_tracking.TrackedList):
    members, plain = list(value), list(value)
  elif isinstance(value, keras_tracking.TrackedDict):
    members, plain = list(value.values()), dict(value)
  else:
    return None
  if not members or not all(isinstance(m, tf.__internal__.tracking.Trackable) for m in members):
    return None
  cache = owner.__dict__.setdefault("_checkpoint_wrappers", {})
  key = tuple(id(m) for m in members)
  if name not in cache or cache[name][0] != key:
    cache[name] = (key, tf.__internal__.tracking.wrap(plain))
  return cache[name][1]
