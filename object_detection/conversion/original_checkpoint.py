"""Reading a checkpoint written by the original Object Detection API (or any TF2 object checkpoint).

Layouts accepted (all object-based, V2):
  exporter / model zoo  `NAME/checkpoint/ckpt-0`: `model/...` and `save_counter`;
  training              `model_dir/ckpt-N`: also `step`, `optimizer/...` and the optimizer's
                        slot variables (`model/.../kernel/.OPTIMIZER_SLOT/optimizer/m/...`);
  classification        `feature_extractor/...` (a Keras classification network, e.g. the
                        Keras-applications ResNet checkpoints the original's ResNet configs name).
`path` may be a prefix (`.../ckpt-0`), a directory holding checkpoints (its latest one, or the
only `ckpt-*` prefix when the `checkpoint` index file is absent), or a zoo model directory (its
`checkpoint/` subdirectory).

Only entries under the requested root (`model` or `feature_extractor`) that hold variable values
are model variables; everything else is set aside by category (optimizer state, step, counters,
slot variables) so that the converter can say what it ignored.
"""

import dataclasses
import glob
import os

import numpy as np
import tensorflow as tf

from object_detection.conversion import object_graph
from object_detection.core.errors import DataError

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_SLOT_MARKER = "/.OPTIMIZER_SLOT/"


def _latest_in_directory(directory):
  latest = tf.train.latest_checkpoint(directory)
  if latest is not None:
    return latest
  indexes = sorted(glob.glob(os.path.join(directory, "*.index")))
  if len(indexes) == 1:
    return indexes[0][:-len(".index")]
  if indexes:
    raise DataError(f"{directory}: several checkpoints and no 'checkpoint' index file (got "
                    f"{[os.path.basename(i) for i in indexes]}; expected one, or a prefix)")
  return None


def locate(path):
  """The checkpoint prefix for a prefix, a checkpoint directory or a zoo model directory.

  Raises:
    DataError naming the path when nothing usable is there.
  """
  path = os.fspath(path)
  if tf.io.gfile.isdir(path):
    zoo_layout = tf.io.gfile.isdir(os.path.join(path, "checkpoint"))
    prefix = _latest_in_directory(os.path.join(path, "checkpoint") if zoo_layout else path)
    if prefix is None:
      raise DataError(f"{path}: no checkpoint in this directory (expected ckpt-N.index and "
                      "ckpt-N.data-* files, or a zoo model directory with checkpoint/)")
    path = prefix
  elif path.endswith(".index"):
    path = path[:-len(".index")]
  index = path + ".index"
  if not tf.io.gfile.exists(index):
    raise DataError(f"{index}: checkpoint index file not found (got prefix {path!r}; expected "
                    "a prefix such as .../ckpt-0, or a directory holding checkpoints)")
  return path


def data_files(prefix):
  """The `.data-XXXXX-of-YYYYY` shards that belong to `prefix` (all of them must exist)."""
  found = sorted(glob.glob(glob.escape(prefix) + ".data-*-of-*"))
  if not found:
    raise DataError(f"{prefix}.data-00000-of-00001: checkpoint data file not found (the "
                    ".index is there; was the checkpoint copied completely?)")
  total = int(found[0].rsplit("-of-", 1)[1])
  expected = [f"{prefix}.data-{i:05d}-of-{total:05d}" for i in range(total)]
  missing = [f for f in expected if f not in found]
  if missing:
    raise DataError(f"{missing[0]}: checkpoint data shard not found ({len(missing)} of "
                    f"{total} missing)")
  return expected


@dataclasses.dataclass
class OriginalCheckpoint:
  """The entries of one checkpoint, split into model variables and the rest.

  Attributes:
    prefix: str, the checkpoint prefix.
    root: str, the top-level object holding the model ("model" or "feature_extractor").
    shapes: {short key: [int]} of the model variables under `root` (slot variables excluded).
    dtypes: {short key: tf.DType} of the same.
    ignored: {category: [short keys]}: "optimizer", "slots", "step", "other".
    reader: tf.train.CheckpointReader.
  """
  prefix: str
  root: str
  shapes: dict
  dtypes: dict
  ignored: dict
  reader: object

  def value(self, key):
    """numpy value of a model variable (short key); DataError naming the file if unreadable."""
    try:
      return self.reader.get_tensor(key + object_graph.VALUE_SUFFIX)
    except tf.errors.OpError as e:
      raise DataError(f"{self.prefix}.data-*: cannot read {key!r} "
                      f"({type(e).__name__}: {str(e).splitlines()[0]})") from e


def _reader(prefix):
  try:
    return tf.train.load_checkpoint(prefix)
  except tf.errors.OpError as e:
    raise DataError(f"{prefix}.index: not a readable TensorFlow checkpoint index "
                    f"({type(e).__name__}: {str(e).splitlines()[0]})") from e


def _check_size(prefix, shapes, dtypes):
  """A data file shorter than the numeric tensors it must hold is truncated: fail before
  reading anything (reading would fail half-way, or worse, late)."""
  files = data_files(prefix)
  have = sum(os.path.getsize(f) for f in files)
  need = 0
  for key, shape in shapes.items():
    dtype = dtypes.get(key)
    if dtype is not None and dtype != tf.string:
      need += int(np.prod(shape, dtype=np.int64)) * dtype.size
  if have < need:
    raise DataError(f"{files[-1]}: checkpoint data is truncated (got {have} bytes in "
                    f"{len(files)} file(s); the index lists {need} bytes of tensors)")


def _category(key, root):
  if _SLOT_MARKER in key:
    return "slots"
  top = key.split("/", 1)[0]
  if top == root:
    return None
  if top == "optimizer":
    return "optimizer"
  if top in ("step", "global_step"):
    return "step"
  return "other"


def read(path, root="model"):
  """Opens a checkpoint and lists its model variables under `root`.

  Args:
    path: prefix, checkpoint directory, or zoo model directory (see the module docstring).
    root: "model" (detection checkpoints) or "feature_extractor" (classification ones).
  Returns:
    OriginalCheckpoint.
  Raises:
    DataError: missing/truncated/unreadable files (the message names the file).
  """
  prefix = locate(path)
  reader = _reader(prefix)
  all_shapes = reader.get_variable_to_shape_map()
  all_dtypes = reader.get_variable_to_dtype_map()
  _check_size(prefix, all_shapes, all_dtypes)
  shapes, dtypes, ignored = {}, {}, {}
  for key in sorted(all_shapes):
    if key == OBJECT_GRAPH_KEY or not key.endswith(object_graph.VALUE_SUFFIX):
      continue
    short = object_graph.short_key(key)
    category = _category(short, root)
    if category is None:
      shapes[short] = list(all_shapes[key])
      dtypes[short] = all_dtypes[key]
    else:
      ignored.setdefault(category, []).append(short)
  return OriginalCheckpoint(prefix=prefix, root=root, shapes=shapes, dtypes=dtypes,
                            ignored=ignored, reader=reader)


def written_by_original(path):
  """True when the checkpoint at `path` looks like a Keras 2 object graph (the original API):
  its kernels are stored as `.../kernel`, while every Keras 3 checkpoint of this package stores
  `.../_kernel`. (restore.is_original gives the exact answer for a given model.)"""
  keys = _reader(locate(path)).get_variable_to_shape_map()
  kernels = [k for k in keys if k.endswith("kernel" + object_graph.VALUE_SUFFIX)]
  return bool(kernels) and not any(
      k.endswith("/_kernel" + object_graph.VALUE_SUFFIX) for k in kernels)
