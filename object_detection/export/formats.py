"""Deployment files written beside an exported SavedModel: LiteRT (.tflite) and ONNX.

    write_formats("exported/saved_model", "exported", ["tflite", "onnx"], ["none", "float16"])

Files (in output_directory):
  model.tflite, model_float16.tflite, model_dynamic_range.tflite   every signature of the
      SavedModel in one file, one file per --tflite_quantization (litert_export.py)
  model.onnx                serving_default (ONNX holds one graph per file; onnx_export.py)
  image_and_boxes.onnx      the box-prompted signature, when the model has it
Both need a numeric image input (--input_type image_tensor or float_image_tensor): neither
LiteRT's builtin ops nor ONNX decode JPEG/PNG bytes or parse tf.Example protos.

Also a command line for SavedModels exported earlier (ours, or the original's):
  python -m object_detection.export.formats --saved_model_dir=exported/saved_model \
      --output_directory=exported --output_format=tflite,onnx [--tflite_quantization=none,float16]
"""

import os

from object_detection.core.errors import ConfigError, ExportError, did_you_mean
from object_detection.export import litert_export
from object_detection.export import onnx_export
from object_detection.utils import cli
from object_detection.utils import flags

FORMATS = ("saved_model", "tflite", "onnx")
NUMERIC_INPUT_TYPES = ("image_tensor", "float_image_tensor")


def _split(text, allowed, flag):
  values = [v.strip() for v in str(text).split(",") if v.strip()]
  for v in values:
    if v not in allowed:
      raise ConfigError(f"{flag}: unknown value (got {v!r}; expected a comma list of: "
                        f"{', '.join(allowed)}){did_you_mean(v, allowed)}")
  if not values:
    raise ConfigError(f"{flag}: empty (got {text!r}; expected a comma list of: "
                      f"{', '.join(allowed)})")
  return list(dict.fromkeys(values))


def parse_formats(text):
  """'saved_model,tflite' -> ['saved_model', 'tflite'] (ConfigError for unknown names)."""
  return _split(text, FORMATS, "--output_format")


def parse_quantizations(text):
  """'none,float16' -> ['none', 'float16'] (ConfigError for unknown names)."""
  return _split(text, litert_export.QUANTIZATIONS, "--tflite_quantization")


def check_input_type(input_type, formats):
  """ConfigError when a LiteRT / ONNX export is asked of an encoded-bytes input type."""
  wanted = [f for f in formats if f != "saved_model"]
  if wanted and input_type not in NUMERIC_INPUT_TYPES:
    raise ConfigError(f"--output_format={','.join(wanted)}: needs an image input (got "
                      f"--input_type={input_type}; expected one of: "
                      f"{', '.join(NUMERIC_INPUT_TYPES)}); LiteRT and ONNX cannot decode "
                      f"encoded images or tf.Example protos")


def check_precision(use_bfloat16, formats):
  """ConfigError when a LiteRT / ONNX export is asked of a bfloat16 SavedModel."""
  wanted = [f for f in formats if f != "saved_model"]
  if wanted and use_bfloat16:
    raise ConfigError(f"--output_format={','.join(wanted)}: needs a float32 SavedModel (got "
                      f"--use_bfloat16; expected it unset). The LiteRT and ONNX exports are "
                      f"converted from a float32 graph; for a half-size LiteRT model use "
                      f"--tflite_quantization=float16")


def _check_numeric_signature(saved_model_dir, formats):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  loaded = tf.saved_model.load(saved_model_dir)
  if "serving_default" not in loaded.signatures:
    raise ExportError(f"{saved_model_dir}: no serving_default signature (got "
                      f"{sorted(loaded.signatures)}; expected serving_default)")
  specs = loaded.signatures["serving_default"].structured_input_signature[1]
  for name, spec in specs.items():
    if spec.dtype == tf.string:
      raise ExportError(f"{saved_model_dir}: serving_default input {name!r} is a string tensor "
                        f"(got {spec.dtype.name}; expected an image tensor, uint8 or float32): "
                        f"re-export with --input_type=image_tensor for "
                        f"{','.join(f for f in formats if f != 'saved_model')}")
  return sorted(loaded.signatures)


def write_formats(saved_model_dir, output_directory, formats, quantizations=("none",)):
  """Converts `saved_model_dir` to the LiteRT / ONNX files of `formats` in `output_directory`.

  Returns:
    the paths written, in order.
  """
  wanted = [f for f in formats if f != "saved_model"]
  if not wanted:
    return []
  signatures = _check_numeric_signature(saved_model_dir, formats)
  written = []
  if "tflite" in wanted:
    for q in quantizations:
      path = os.path.join(output_directory, litert_export.file_name(q))
      litert_export.convert_saved_model(saved_model_dir, path, q, signatures)
      written.append(path)
  if "onnx" in wanted:
    for signature in signatures:
      path = os.path.join(output_directory, onnx_export.file_name(signature))
      onnx_export.convert_saved_model(saved_model_dir, path, signature)
      written.append(path)
  return written


def build_parser():
  p = flags.FlagParser(prog="formats", description=__doc__.split("\n", maxsplit=1)[0])
  p.add_argument("--saved_model_dir", required=True)
  p.add_argument("--output_directory", required=True)
  p.add_argument("--output_format", default="tflite,onnx", help="comma list of: tflite, onnx")
  p.add_argument("--tflite_quantization", default="none",
                 help=f"comma list of: {', '.join(litert_export.QUANTIZATIONS)}")
  return p


def main(argv=None):
  args = build_parser().parse_args(argv)
  cli.start(args)
  written = write_formats(args.saved_model_dir, args.output_directory,
                          parse_formats(args.output_format),
                          parse_quantizations(args.tflite_quantization))
  for path in written:
    print(f"wrote {path}")
  return 0


if __name__ == "__main__":
  cli.run_main(main)
