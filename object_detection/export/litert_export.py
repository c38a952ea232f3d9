"""Converts an exported SavedModel to LiteRT (TFLite) and runs it with the LiteRT interpreter.

    convert_saved_model(saved_model_dir, "model.tflite", quantization="float16")
    runner = LiteRTRunner("model.tflite"); runner("serving_default", input_tensor=image)

Converter: `tf.lite.TFLiteConverter` of TensorFlow 2.21 (the maintained converter for TF graphs;
`litert-converter` converts StableHLO, not SavedModels). Runtime: `ai_edge_litert.interpreter`
(the `tf.lite.Interpreter` successor). Only LiteRT builtin ops are allowed: the `ai-edge-litert`
wheel, like the mobile runtimes, has no TensorFlow (Select / Flex) kernels, so a model that needs
one is refused at conversion with the op names instead of producing a file that cannot run.

Every signature of the SavedModel becomes a LiteRT signature with the same name, input names and
output names (`serving_default`: input_tensor -> detection_boxes, detection_scores, ...;
`image_and_boxes`: input_tensor, boxes -> detection_masks, detection_boxes). Input height and
width stay dynamic: the runner resizes the input tensors for each call. The batch stays 1 as
in the SavedModel: LiteRT's own resize is not strict, and a batch of 2 given to a batch-1 model
silently runs the first image only, so LiteRTRunner checks every input against the signature.

Quantization (post-training, no calibration data needed):
  none           float32 weights and compute.
  float16        weights stored as float16 (half the file), dequantized to float32 at load time
                 on CPU; outputs differ from float32 by float16 rounding of the weights.
  dynamic_range  weights stored as int8 (a quarter of the file); convolutions and matmuls
                 quantize their activations to int8 on the fly. The largest differences.
"""

import os
import re
import tempfile

import numpy as np

from object_detection.core.errors import DataError, ExportError

QUANTIZATIONS = ("none", "float16", "dynamic_range")


def file_name(quantization):
  """The file name the exporter writes for `quantization` (model.tflite, model_float16.tflite)."""
  return "model.tflite" if quantization == "none" else f"model_{quantization}.tflite"


def _check_quantization(quantization):
  if quantization not in QUANTIZATIONS:
    raise ExportError(f"--quantization: unknown LiteRT quantization (got {quantization!r}; "
                      f"expected one of: {', '.join(QUANTIZATIONS)})")


def _unsupported_ops(message):
  """Op names from a converter error message (`tf.Foo`, `Flex ops: FlexFoo`, 'op: Foo')."""
  names = set(re.findall(r"\btf\.([A-Z][A-Za-z0-9]+)", message))
  names |= set(re.findall(r"\bFlex([A-Z][A-Za-z0-9]+)", message))
  return sorted(names)


def convert_saved_model(saved_model_dir, output_path, quantization="none", signature_keys=None):
  """Converts `saved_model_dir` to a .tflite file at `output_path` (written atomically).

  Args:
    saved_model_dir: a SavedModel (ours, or one exported by the original's exporter_main_v2).
    output_path: the .tflite file to write.
    quantization: one of QUANTIZATIONS.
    signature_keys: the signatures to convert (default: all of the SavedModel's).
  Returns:
    the signature keys in the file.
  Raises:
    ExportError: unknown quantization, or ops that LiteRT has no builtin kernel for.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  _check_quantization(quantization)
  if signature_keys is None:
    signature_keys = sorted(tf.saved_model.load(saved_model_dir).signatures.keys())
  converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                       signature_keys=list(signature_keys))
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  if quantization != "none":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantization == "float16":
    converter.target_spec.supported_types = [tf.float16]
  try:
    flatbuffer = converter.convert()
  except Exception as e:  # pylint: disable=broad-except  (ConverterError and friends)
    ops = _unsupported_ops(str(e))
    raise ExportError(
        f"{saved_model_dir}: LiteRT cannot convert this model (got ops without a LiteRT builtin "
        f"kernel: {', '.join(ops) or 'see the converter message below'}; expected builtin ops "
        f"only, the LiteRT runtime has no TensorFlow kernels)\n{str(e)[-2000:]}") from e
  _write_atomically(output_path, flatbuffer)
  return list(signature_keys)


def _write_atomically(path, data):
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


class LiteRTRunner:
  """A .tflite file in the LiteRT interpreter; `__call__(signature, **inputs)` -> numpy dict."""

  def __init__(self, path, num_threads=None):
    from ai_edge_litert import interpreter as litert  # pylint: disable=import-outside-toplevel
    self._interpreter = litert.Interpreter(model_path=path, num_threads=num_threads)
    self._runners = {}

  def signatures(self):
    """{name: {"inputs": [...], "outputs": [...]}}."""
    return self._interpreter.get_signature_list()

  def input_details(self, signature="serving_default"):
    """{input name: {"shape", "shape_signature", "dtype"}} of `signature`."""
    return self._runner(signature).get_input_details()

  def _runner(self, signature):
    if signature not in self._runners:
      if signature not in self.signatures():
        raise ExportError(f"signature: not in this LiteRT model (got {signature!r}; expected one "
                          f"of: {', '.join(sorted(self.signatures()))})")
      self._runners[signature] = self._interpreter.get_signature_runner(signature)
    return self._runners[signature]

  def __call__(self, signature="serving_default", **inputs):
    runner = self._runner(signature)
    details = runner.get_input_details()
    for name, value in inputs.items():
      _check_input(name, np.asarray(value), details.get(name), sorted(details))
    return {k: np.asarray(v) for k, v in runner(**inputs).items()}


def _check_input(name, value, detail, names):
  """DataError unless `value` fits the input's shape signature and dtype exactly.

  The interpreter resizes an input to any shape of the same rank (non-strict), and a model
  converted with batch 1 then silently runs the first image of a batch of 2 only.
  """
  if detail is None:
    raise DataError(f"{name}: not an input of this signature (got {name!r}; expected one of: "
                    f"{', '.join(names)})")
  want = [int(d) for d in detail["shape_signature"]]
  fits = len(value.shape) == len(want) and all(w in (-1, g) for w, g in zip(want, value.shape))
  if not fits:
    raise DataError(f"{name}: shape does not fit the model (got {list(value.shape)}; expected "
                    f"{want}, -1 = any size)")
  if value.dtype != detail["dtype"]:
    raise DataError(f"{name}: wrong dtype (got {value.dtype}; expected "
                    f"{np.dtype(detail['dtype']).name})")
