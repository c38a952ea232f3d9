"""Converts a signature of an exported SavedModel to ONNX (tf2onnx) and runs it (ONNX Runtime).

    convert_saved_model(saved_model_dir, "model.onnx")                       # serving_default
    convert_saved_model(saved_model_dir, "image_and_boxes.onnx", "image_and_boxes")
    runner = OnnxRunner("model.onnx"); runner(input_tensor=image)           # -> numpy dict

An ONNX file holds one graph, so each signature is its own file. Inputs and outputs keep the
signature's names and dtypes (`input_tensor` uint8 [1, H, W, 3] -> `detection_boxes` float32
[1, K, 4], ...); height and width stay dynamic. Only ops of the standard ONNX domains are
allowed: tf2onnx leaves a TensorFlow op it cannot map in the graph under its TF name, and such a
file would only fail later in the runtime, so conversion refuses it with the op names.
"""

import os
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


def convert_saved_model(saved_model_dir, output_path, signature="serving_default", opset=OPSET):
  """Converts one signature of `saved_model_dir` to an ONNX file (written atomically).

  Returns:
    ([input names], [output names]) of the ONNX graph.
  Raises:
    ExportError: no such signature, or ops outside the ONNX standard domains.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import tf2onnx  # pylint: disable=import-outside-toplevel
  loaded = tf.saved_model.load(saved_model_dir)
  fn, input_signature = _signature_function(loaded, signature, saved_model_dir)
  try:
    model_proto, _ = tf2onnx.convert.from_function(fn, input_signature=input_signature,
                                                   opset=opset)
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
