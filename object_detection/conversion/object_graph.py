"""Checkpoint keys of a live model, computed from its object graph (no checkpoint is written).

`tf.train.Checkpoint` names every variable by the path of attribute names through which it is
first reached in a breadth-first walk of the object graph from the root, with `.` escaped as `..`
and `/` as `.S`, followed by `/.ATTRIBUTES/VARIABLE_VALUE`. `variables_by_key` repeats that walk
with the public `tf.train.TrackableView`, so the keys it returns are exactly those that
`tf.train.Checkpoint(**roots).write(...)` would store (a test pins this).

Keys are handled without the `/.ATTRIBUTES/VARIABLE_VALUE` suffix throughout the conversion
package ("short keys", e.g. `model/_feature_extractor/_network/output_conv/0/conv/kernel`), and
the leaf name of Keras 3 kernels (`_kernel`, kept private by Keras 3 for LoRA) is written as Keras
2 writes it (`kernel`): `canonical_key` does both.
"""

import collections

import keras
import tensorflow as tf

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_KERAS3_LEAVES = {"_kernel": "kernel"}


def escape(name):
  """One attribute name as it appears in a checkpoint key."""
  return name.replace(".", "..").replace("/", ".S")


def short_key(key):
  """A checkpoint key without the `/.ATTRIBUTES/VARIABLE_VALUE` suffix (unchanged otherwise)."""
  return key[:-len(VALUE_SUFFIX)] if key.endswith(VALUE_SUFFIX) else key


def canonical_key(key):
  """Short key with Keras 3 private leaf names written as Keras 2 writes them (`_kernel` ->
  `kernel`)."""
  key = short_key(key)
  head, _, leaf = key.rpartition("/")
  return f"{head}/{_KERAS3_LEAVES[leaf]}" if leaf in _KERAS3_LEAVES else key


def _is_variable(obj):
  return isinstance(obj, (tf.Variable, keras.Variable))


def variables_by_key(roots):
  """{short key: variable} for every variable reachable from `roots`.

  Args:
    roots: {name: trackable}, the keyword arguments one would give `tf.train.Checkpoint`
      (e.g. {"model": model}).
  Returns:
    dict in breadth-first order; keys as `tf.train.Checkpoint(**roots)` would write them, without
    the value suffix. Variables of Keras 3 (`keras.Variable`) and plain `tf.Variable`s.
  """
  root = tf.train.Checkpoint(**roots)
  view = tf.train.TrackableView(root)
  paths = {id(root): ()}
  queue = collections.deque([root])
  found = {}
  while queue:
    obj = queue.popleft()
    for name, child in view.children(obj).items():
      if id(child) in paths:
        continue
      paths[id(child)] = paths[id(obj)] + (escape(name),)
      if _is_variable(child):
        found["/".join(paths[id(child)])] = child
      else:
        queue.append(child)
  return found


def canonical_variables(roots):
  """{canonical key: variable} (see `canonical_key`); raises if two keys collide."""
  out = {}
  for key, var in variables_by_key(roots).items():
    canon = canonical_key(key)
    if canon in out:
      raise ValueError(f"canonical_variables: two variables map to {canon!r}")
    out[canon] = var
  return out


def variable_shape(var):
  """Static shape of a tf.Variable or keras.Variable as a list of ints."""
  return [int(d) for d in var.shape]
