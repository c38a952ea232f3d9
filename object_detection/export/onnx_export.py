"""Converts a signature of an exported SavedModel to ONNX (tf2onnx) and runs it (ONNX Runtime).

    convert_saved_model(saved_model_dir, "model.onnx")                       # serving_default
    convert_saved_model(saved_model_dir, "image_and_boxes.onnx", "image_and_boxes")
    runner = OnnxRunner("model.onnx"); runner(input_tensor=image)           # -> numpy dict

An ONNX file holds one graph, so each signature is its own file. Inputs and outputs keep the
signature's names and dtypes (`input_tensor` uint8 [1, H, W, 3] -> `detection_boxes` float32
[1, K, 4], ...); height and width stay dynamic. Only ops of the standard ONNX domains are
allowed: tf2onnx leaves a TensorFlow op it cannot map in the graph under its TF name, and such a
file would only fail later in the runtime, so conversion refuses it with the op names.

tf2onnx runs in a child process on the pure-Python protobuf runtime. Under upb (the default
runtime) each of tf2onnx's ~20 graph-optimizer passes rewrites every node's attributes in place,
and upb keeps the replaced ones in the node's arena until the whole graph is freed: one more copy
of the weights per pass. CenterNet HG-104 (191 M parameters, 0.77 GB) grew by 0.73 GB a pass and
was killed at 19 GB; with pure-Python protobuf the same conversion peaks at about 5 GB.

    python -m object_detection.export.onnx_export SAVED_MODEL_DIR OUT.onnx [--signature S]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from object_detection.core.errors import DataError, ExportError

# Opset 17 (ONNX 1.12, 2022): every op these models need, and runtimes from ONNX Runtime 1.12
# on (mobile and web builds included) load it.
OPSET = 17


def file_name(signature):
  """The file name the exporter writes for `signature` (model.onnx, image_and_boxes.onnx)."""
  return "model.onnx" if signature == "serving_default" else f"{signature}.onnx"


def _signature_function(loaded, signature, saved_model_dir):
  """A tf.function with positional TensorSpecs that calls the restored signature."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  if signature not in loaded.signatures:
    raise ExportError(f"{saved_model_dir}: no signature {signature!r} (got "
                      f"{sorted(loaded.signatures)}; expected one of those)")
  concrete = loaded.signatures[signature]
  specs = concrete.structured_input_signature[1]
  names = sorted(specs)
  input_signature = [tf.TensorSpec(specs[n].shape, specs[n].dtype, name=n) for n in names]

  def call(*args):
    return concrete(**dict(zip(names, args)))
  return tf.function(call, input_signature=input_signature), input_signature


def _tensor_protos(graph):
  """Every TensorProto of an ONNX graph: initializers and node attributes, subgraphs included."""
  graphs = [graph]
  while graphs:
    g = graphs.pop()
    yield from g.initializer
    for node in g.node:
      for attr in node.attribute:
        if attr.HasField("t"):
          yield attr.t
        yield from attr.tensors
        graphs.extend([attr.g] if attr.HasField("g") else [])
        graphs.extend(attr.graphs)


def _embed_tensors(model_proto, storage):
  """Moves tf2onnx's external tensor storage back into the model (one self-contained file)."""
  import onnx  # pylint: disable=import-outside-toplevel
  if storage is None:
    return
  for tensor in _tensor_protos(model_proto.graph):
    if tensor.data_location != onnx.TensorProto.EXTERNAL:
      continue
    location = {e.key: e.value for e in tensor.external_data}["location"]
    tensor.raw_data = storage.name_to_tensor_data.pop(location)
    del tensor.external_data[:]
    tensor.data_location = onnx.TensorProto.DEFAULT
  if storage.name_to_tensor_data:
    raise ExportError(f"ONNX export: {len(storage.name_to_tensor_data)} external tensors are "
                      f"referenced by no node (got e.g. {next(iter(storage.name_to_tensor_data))};"
                      f" expected every one to be embedded)")


def _foreign_ops(model_proto):
  """Sorted op types of nodes that no registered ONNX schema defines (TF ops left in)."""
  import onnx  # pylint: disable=import-outside-toplevel
  foreign = set()
  graphs = [model_proto.graph]
  while graphs:
    graph = graphs.pop()
    for node in graph.node:
      if not onnx.defs.has(node.op_type, node.domain):
        foreign.add(node.op_type if not node.domain else f"{node.domain}.{node.op_type}")
      for attr in node.attribute:
        graphs.extend([attr.g] if attr.HasField("g") else [])
        graphs.extend(attr.graphs)
  return sorted(foreign)


def _convert_here(saved_model_dir, output_path, signature, opset):
  """Converts one signature of `saved_model_dir` to an ONNX file (written atomically), in this
  process.

  Returns:
    ([input names], [output names]) of the ONNX graph.
  Raises:
    ExportError: no such signature, or ops outside the ONNX standard domains.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import tf2onnx  # pylint: disable=import-outside-toplevel
  loaded = tf.saved_model.load(saved_model_dir)
  fn, input_signature = _signature_function(loaded, signature, saved_model_dir)
  if not hasattr(np, "product"):
    # tf2onnx 1.17's large-model path calls np.product, which NumPy 2 removed (this runs in the
    # converter's own child process).
    np.product = np.prod
  try:
    # large_model: the frozen graph's constants stay out of the GraphDefs that TF's import and
    # grappler copy (peak 3 GB instead of 16 GB on HG-104); they come back in _embed_tensors.
    model_proto, storage = tf2onnx.convert.from_function(fn, input_signature=input_signature,
                                                         opset=opset, large_model=True)
    _embed_tensors(model_proto, storage)
  except Exception as e:  # pylint: disable=broad-except  (tf2onnx raises plain exceptions)
    raise ExportError(f"{saved_model_dir}: tf2onnx cannot convert signature {signature!r} (got "
                      f"{type(e).__name__}: {str(e)[-1500:]}; expected a graph of TF ops that "
                      f"tf2onnx maps to ONNX opset {opset})") from e
  foreign = _foreign_ops(model_proto)
  if foreign:
    raise ExportError(f"{saved_model_dir}: ONNX export of signature {signature!r} needs ops "
                      f"that ONNX opset {opset} does not have (got {', '.join(foreign)}; "
                      f"expected standard ONNX ops only)")
  directory = os.path.dirname(os.path.abspath(output_path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(output_path))
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(model_proto.SerializeToString())
    os.replace(tmp, output_path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return ([i.name for i in model_proto.graph.input], [o.name for o in model_proto.graph.output])


def convert_saved_model(saved_model_dir, output_path, signature="serving_default", opset=OPSET):
  """Converts one signature of `saved_model_dir` to an ONNX file (written atomically) in a child
  process on the pure-Python protobuf runtime (see the module docstring).

  Returns:
    ([input names], [output names]) of the ONNX graph.
  Raises:
    ExportError: no such signature, ops outside the ONNX standard domains, or the converter
      process failed (its last output lines are in the message).
  """
  if not os.path.isfile(os.path.join(saved_model_dir, "saved_model.pb")):
    raise ExportError(f"{saved_model_dir}: not a SavedModel directory (got no saved_model.pb; "
                      f"expected the exporter's saved_model/ folder)")
  env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  cmd = [sys.executable, "-m", "object_detection.export.onnx_export", saved_model_dir,
         output_path, "--signature", signature, "--opset", str(opset)]
  proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
  lines = proc.stdout.strip().splitlines()
  result = None
  if lines:
    try:
      result = json.loads(lines[-1])
    except ValueError:
      result = None
  if isinstance(result, dict) and "error" in result:
    raise ExportError(result["error"])
  if proc.returncode != 0 or not isinstance(result, dict):
    tail = "\n".join((proc.stderr or "").strip().splitlines()[-15:])
    raise ExportError(f"{saved_model_dir}: the ONNX converter process failed (got exit status "
                      f"{proc.returncode}; expected 0). Its last lines:\n{tail}")
  return result["inputs"], result["outputs"]


def main(argv=None):
  """Child side of convert_saved_model: converts, prints one JSON line (names, or the error)."""
  parser = argparse.ArgumentParser(description="Convert a SavedModel signature to ONNX.")
  parser.add_argument("saved_model_dir")
  parser.add_argument("output_path")
  parser.add_argument("--signature", default="serving_default")
  parser.add_argument("--opset", type=int, default=OPSET)
  args = parser.parse_args(argv)
  try:
    inputs, outputs = _convert_here(args.saved_model_dir, args.output_path, args.signature,
                                    args.opset)
  except ExportError as e:
    print(json.dumps({"error": str(e)}), flush=True)
    return 2
  print(json.dumps({"inputs": inputs, "outputs": outputs}), flush=True)
  return 0


class OnnxRunner:
  """An .onnx file in an ONNX Runtime CPU session; `__call__(**inputs)` -> numpy dict."""

  def __init__(self, path, num_threads=None):
    import onnxruntime as ort  # pylint: disable=import-outside-toplevel
    options = ort.SessionOptions()
    if num_threads:
      options.intra_op_num_threads = num_threads
      options.inter_op_num_threads = 1
    self._session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    self.input_names = [i.name for i in self._session.get_inputs()]
    self.output_names = [o.name for o in self._session.get_outputs()]

  def input_details(self):
    """{input name: (shape with None for dynamic dims, numpy dtype name)}."""
    return {i.name: ([d if isinstance(d, int) else None for d in i.shape], i.type)
            for i in self._session.get_inputs()}

  def __call__(self, **inputs):
    details = self.input_details()
    feed = {}
    for name, value in inputs.items():
      value = np.asarray(value)
      if name not in details:
        raise DataError(f"{name}: not an input of this model (got {name!r}; expected one of: "
                        f"{', '.join(self.input_names)})")
      shape, onnx_type = details[name]
      if len(value.shape) != len(shape) or any(
          w not in (None, g) for w, g in zip(shape, value.shape)):
        raise DataError(f"{name}: shape does not fit the model (got {list(value.shape)}; "
                        f"expected {shape}, None = any size)")
      want = _ONNX_TYPES.get(onnx_type)
      if want is not None and value.dtype != want:
        raise DataError(f"{name}: wrong dtype (got {value.dtype}; expected {np.dtype(want).name})")
      feed[name] = value
    values = self._session.run(self.output_names, feed)
    return dict(zip(self.output_names, values))


_ONNX_TYPES = {"tensor(uint8)": np.uint8, "tensor(float)": np.float32,
               "tensor(int32)": np.int32, "tensor(int64)": np.int64}


if __name__ == "__main__":
  sys.exit(main())
