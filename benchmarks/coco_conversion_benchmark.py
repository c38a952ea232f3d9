r"""Conversion speed of create_coco_tf_record on ../shared/data/coco_mini (with masks).

  .venv/bin/python benchmarks/coco_conversion_benchmark.py            # all 94 images, 2 settings
  .venv/bin/python benchmarks/coco_conversion_benchmark.py --small    # 8 images, smoke check

Converts the train and val json of coco_mini (94 images, 801 instances: polygons and crowd RLE)
with --include_masks, once with all cores and once with 1 worker, into a temporary directory,
and prints images/s and instances/s for each (best of --repeats runs; worker start-up included,
as a user would see it), the CPU time spent in the main process per image (with 1 worker this is
the whole per-image cost, independent of other load on the machine) and the load average.
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from object_detection.dataset_tools import coco_conversion  # noqa: E402


def _split_files(data_dir, tmp, small):
  files = [data_dir / "instances_train.json", data_dir / "instances_val.json"]
  if not small:
    return [str(f) for f in files]
  with open(files[1]) as f:
    data = json.load(f)
  data["images"] = data["images"][:8]
  keep = {im["id"] for im in data["images"]}
  data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
  path = pathlib.Path(tmp) / "small.json"
  path.write_text(json.dumps(data))
  return [str(path)]


def _convert_all(files, image_dir, out_dir, num_workers):
  images = annotations = 0
  start, cpu_start = time.perf_counter(), time.process_time()
  for index, annotations_file in enumerate(files):
    summary = coco_conversion.convert_coco_split(
        image_dir=str(image_dir), annotations_file=annotations_file,
        output_base=os.path.join(out_dir, f"split{index}.record"), num_shards=4,
        include_masks=True, num_workers=num_workers, progress_stream=None, report=lambda m: None)
    images += summary.images_written
    annotations += summary.annotations_written
  return images, annotations, time.perf_counter() - start, time.process_time() - cpu_start


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", default=str(REPO.parent / "shared" / "data" / "coco_mini"))
  parser.add_argument("--small", action="store_true", help="8 images only (smoke check)")
  parser.add_argument("--repeats", type=int, default=2)
  args = parser.parse_args(argv)
  data_dir = pathlib.Path(args.data_dir)
  cores = os.cpu_count()
  print(f"coco_conversion_benchmark: {data_dir}, include_masks, cpu_count={cores}")
  with tempfile.TemporaryDirectory() as tmp:
    files = _split_files(data_dir, tmp, args.small)
    for workers in sorted({cores, 1}, reverse=True):
      best = None
      for repeat in range(args.repeats):
        out_dir = os.path.join(tmp, f"w{workers}_{repeat}")
        result = _convert_all(files, data_dir / "images", out_dir, workers)
        best = result if best is None or result[2] < best[2] else best
      images, annotations, seconds, cpu = best
      size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
      print(f"num_workers={workers}: {images} images, {annotations} instances in {seconds:.2f} s -> "
            f"{images / seconds:.1f} images/s, {annotations / seconds:.0f} instances/s; "
            f"main-process CPU {1000 * cpu / images:.1f} ms/image (output {size / 2**20:.1f} MiB)")
  print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {cores} cores")


if __name__ == "__main__":
  main()
