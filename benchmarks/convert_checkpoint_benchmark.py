"""Speed and peak memory of convert_checkpoint on a full-size checkpoint of the original.

Make the checkpoint with the original itself (random weights, its exporter's layout), then time
the conversion here (the machine should be quiet; every figure is printed, nothing asserted):

    # under the original's venv (source ../shared/reference/harness/env.sh):
    python benchmarks/reference/ref_random_model.py \\
        configs/tf2/centernet_hourglass104_512x512_coco17_tpu-8.config /tmp/ref/hg104 --size 128
    # here:
    python benchmarks/convert_checkpoint_benchmark.py \\
        --pipeline_config_path=configs/tf2/centernet_hourglass104_512x512_coco17_tpu-8.config \\
        --original_checkpoint=/tmp/ref/hg104 [--output_dir=/tmp/hg104_converted]

Prints the phases (read + build the model's variables, copy the values, write the checkpoint),
the total wall and CPU seconds, the checkpoint size and the process's peak resident memory.
"""

import argparse
import json
import os
import resource
import shutil
import tempfile
import time


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--pipeline_config_path", required=True)
  parser.add_argument("--original_checkpoint", required=True)
  parser.add_argument("--output_dir", default="")
  args = parser.parse_args()

  start_wall, start_cpu = time.perf_counter(), time.process_time()
  import tensorflow as tf  # pylint: disable=import-outside-toplevel,unused-import
  from object_detection import convert_checkpoint  # pylint: disable=import-outside-toplevel
  from object_detection.conversion import original_checkpoint  # pylint: disable=import-outside-toplevel
  imported = time.perf_counter()
  output_dir = args.output_dir or tempfile.mkdtemp(prefix="converted_")
  if not args.output_dir:
    os.rmdir(output_dir)
  phases = []
  plan = convert_checkpoint.convert(args.pipeline_config_path, args.original_checkpoint,
                                    output_dir, log=phases.append)
  done_wall, done_cpu = time.perf_counter(), time.process_time()
  prefix = original_checkpoint.locate(args.original_checkpoint)
  size = sum(os.path.getsize(os.path.join(os.path.dirname(prefix), f))
             for f in os.listdir(os.path.dirname(prefix))
             if f.startswith(os.path.basename(prefix) + "."))
  result = {
      "mapped": len(plan.pairs), "of": plan.num_original,
      "checkpoint_mb": round(size / 2**20, 1),
      "conversion_phases": phases[-1],
      "convert_wall_s": round(done_wall - imported, 2),
      "total_wall_s_with_imports": round(done_wall - start_wall, 2),
      "total_cpu_s": round(done_cpu - start_cpu, 2),
      "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
  }
  print(json.dumps(result, indent=1))
  if not args.output_dir:
    shutil.rmtree(output_dir, ignore_errors=True)


if __name__ == "__main__":
  main()
