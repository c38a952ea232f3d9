"""Exports a trained checkpoint as a SavedModel (the original's exporter_main_v2.py).

  python exporter_main_v2.py --input_type=image_tensor --pipeline_config_path=PATH \
      --trained_checkpoint_dir=MODEL_DIR --output_directory=OUT [--config_override=TEXT] \
      [field.path=value ...]

Writes OUT/checkpoint/ckpt-0, OUT/saved_model (signature `serving_default`, and
`image_and_boxes` for DeepMAC models: image + boxes -> masks) and OUT/pipeline.config.
--input_type: image_tensor (uint8 [1,H,W,3]), float_image_tensor (float32 [B,H,W,3]),
encoded_image_string_tensor (string [B]) or tf_example (string [B]).
--use_bfloat16: the SavedModel computes in bfloat16 with bfloat16 kernels (batch norm and outputs
float32; half the weight memory; faster on CPUs with AMX or avx512_bf16 and on GPUs/TPUs);
OUT/checkpoint keeps float32 weights. Default float32, as the original.
--output_format=saved_model,tflite,onnx also writes OUT/model.tflite (LiteRT, every signature;
one file per --tflite_quantization: none, float16, dynamic_range) and OUT/model.onnx (+
OUT/image_and_boxes.onnx); see object_detection/export/formats.py.
"""

import os

from object_detection.core.errors import ConfigError
from object_detection.utils import cli
from object_detection.utils import flags


def build_parser():
  p = flags.FlagParser(prog="exporter_main_v2", description=__doc__.split("\n")[0])
  p.add_argument("--input_type", default="image_tensor",
                 help="image_tensor, float_image_tensor, encoded_image_string_tensor, "
                      "tf_example")
  p.add_argument("--pipeline_config_path", required=True)
  p.add_argument("--trained_checkpoint_dir", required=True)
  p.add_argument("--output_directory", required=True)
  p.add_argument("--config_override", default="")
  p.add_bool("use_side_inputs", default=False,
             help="Not supported (side inputs of the original's TF1-era models).")
  p.add_bool("use_bfloat16", default=False,
             help="Export a mixed-bfloat16 graph (recorded in the SavedModel).")
  p.add_argument("--output_format", default="saved_model",
                 help="comma list of: saved_model (always written), tflite, onnx")
  p.add_argument("--tflite_quantization", default="none",
                 help="comma list of: none, float16, dynamic_range (one .tflite file each)")
  p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
  return p


def main(argv=None):
  args = build_parser().parse_args(argv)
  cli.start(args)
  if args.use_side_inputs:
    raise ConfigError("--use_side_inputs: not supported by this package (got true; expected "
                      "false)")
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  from object_detection.export import exporter_lib  # pylint: disable=import-outside-toplevel
  from object_detection.export import formats  # pylint: disable=import-outside-toplevel
  from object_detection.export import signatures  # pylint: disable=import-outside-toplevel
  if args.input_type not in signatures.INPUT_TYPES:
    raise ConfigError(f"--input_type: unknown input type (got {args.input_type!r}; expected "
                      f"one of: {', '.join(signatures.INPUT_TYPES)})")
  output_formats = formats.parse_formats(args.output_format)
  quantizations = formats.parse_quantizations(args.tflite_quantization)
  formats.check_input_type(args.input_type, output_formats)
  formats.check_precision(args.use_bfloat16, output_formats)
  pipeline = loader.load_pipeline_config(args.pipeline_config_path,
                                         config_override=args.config_override or None,
                                         overrides=args.overrides or None)
  names = exporter_lib.export_inference_graph(args.input_type, pipeline,
                                              args.trained_checkpoint_dir, args.output_directory,
                                              use_bfloat16=args.use_bfloat16)
  print(f"exported {args.output_directory}/saved_model with signatures: {', '.join(names)} "
        f"({'mixed bfloat16' if args.use_bfloat16 else 'float32'})")
  for path in formats.write_formats(os.path.join(args.output_directory, "saved_model"),
                                    args.output_directory, output_formats, quantizations):
    print(f"wrote {path}")
  return 0


def run():
  """Console entry point (deepmac-export)."""
  cli.run_main(main)


if __name__ == "__main__":
  run()
