"""Converts a checkpoint of the original Object Detection API into this package's format.

  convert_checkpoint --pipeline_config_path=PIPELINE --original_checkpoint=PATH_OR_DIR \
      --output_dir=OUT [--allow_partial] [--config_override=TEXT] [field.path=value ...]
  python -m object_detection.convert_checkpoint ...   (the same)

PATH_OR_DIR: a prefix (`.../ckpt-0`), a checkpoint directory, or a model-zoo directory (its
`checkpoint/`). Exporter checkpoints (`model/...`) and training ones (with optimizer slots and
step, which are ignored) are both accepted. The model is built from PIPELINE; every variable of
the original's model is mapped onto ours by name (conversion/center_net_names.py,
conversion/rcnn_names.py) and its shape checked. Writes, atomically:
  OUT/checkpoint/ckpt-0.*        tf.train.Checkpoint(step=0, model=...), our object graph
  OUT/checkpoint/checkpoint      the index file, so OUT/checkpoint works as a checkpoint dir
  OUT/pipeline.config            the pipeline
  OUT/conversion_report.txt      what was mapped, ignored and (with --allow_partial) left out
and prints `mapped N of M ...` with anything left over named.

A checkpoint of another architecture or config stops with the counts, the first unmatched
names and the likely cause (num_classes, network_type, backbone). --allow_partial accepts a
partial mapping; the report then lists what stayed at initialization.
"""

import os
import shutil
import tempfile
import time

from object_detection.core.errors import DataError
from object_detection.utils import cli
from object_detection.utils import flags


def build_parser():
  p = flags.FlagParser(prog="convert_checkpoint", description=__doc__.split("\n")[0])
  p.add_argument("--pipeline_config_path", required=True)
  p.add_argument("--original_checkpoint", required=True,
                 help="checkpoint prefix, checkpoint directory or model-zoo directory")
  p.add_argument("--output_dir", required=True)
  p.add_bool("allow_partial", default=False,
             help="accept a partial mapping (the rest stays at initialization)")
  p.add_argument("--config_override", default="")
  p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
  return p


def _check_output_dir(output_dir):
  if os.path.exists(os.path.join(output_dir, "checkpoint")):
    raise DataError(f"{output_dir}/checkpoint: already exists (expected a new or empty output "
                    "directory; nothing was written)")
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise DataError(f"{output_dir}: exists and is not a directory")


def _move_into(staging, output_dir):
  """Moves the staged files into output_dir (created if needed); never overwrites a checkpoint."""
  if not os.path.exists(output_dir):
    os.replace(staging, output_dir)
    return
  for name in os.listdir(staging):
    os.replace(os.path.join(staging, name), os.path.join(output_dir, name))
  shutil.rmtree(staging, ignore_errors=True)


def convert(pipeline_config_path, original_checkpoint, output_dir, allow_partial=False,
            config_override=None, overrides=None, log=print):
  """Runs the conversion (see the module docstring); returns the Plan."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from object_detection.builders import conversion_builder  # pylint: disable=import-outside-toplevel
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  from object_detection.conversion import restore  # pylint: disable=import-outside-toplevel

  output_dir = os.path.abspath(os.fspath(output_dir))
  _check_output_dir(output_dir)
  pipeline = loader.load_pipeline_config(pipeline_config_path, config_override=config_override,
                                         overrides=overrides)
  start = time.perf_counter()
  model = conversion_builder.build_with_variables(pipeline.model)
  built = time.perf_counter()
  plan = restore.restore_original(model, original_checkpoint, kind="full",
                                  allow_partial=allow_partial,
                                  where=f"--original_checkpoint {original_checkpoint}")
  copied = time.perf_counter()
  parent = os.path.dirname(output_dir)
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.", dir=parent)
  try:
    ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), model=model)
    tf.train.CheckpointManager(ckpt, os.path.join(staging, "checkpoint"),
                               max_to_keep=1).save(checkpoint_number=0)
    loader.save_pipeline_config(pipeline, staging)
    report = plan.summary(limit=10**6)
    with open(os.path.join(staging, "conversion_report.txt"), "w", encoding="utf-8") as f:
      f.write(f"source: {original_checkpoint}\npipeline: {pipeline_config_path}\n{report}\n")
    _move_into(staging, output_dir)
  finally:
    if os.path.exists(staging):
      shutil.rmtree(staging, ignore_errors=True)
  saved = time.perf_counter()
  log(plan.summary())
  log(f"wrote {output_dir}/checkpoint/ckpt-0 (build {built - start:.1f} s, copy "
      f"{copied - built:.1f} s, save {saved - copied:.1f} s)")
  return plan


def main(argv=None):
  args = build_parser().parse_args(argv)
  cli.start(args)
  convert(args.pipeline_config_path, args.original_checkpoint, args.output_dir,
          allow_partial=args.allow_partial, config_override=args.config_override or None,
          overrides=args.overrides or None)
  return 0


def run():
  """Console entry point (convert_checkpoint)."""
  cli.run_main(main)


if __name__ == "__main__":
  run()
