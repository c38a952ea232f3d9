"""COCO instances json + image directory -> sharded TFRecords, in parallel, atomically.

Workers (spawned processes, no TensorFlow) read, check and encode each image and its masks
(`coco_image_worker.convert_image`); this process builds the `tf.train.Example`s in input order
and writes example `i` to shard `i % num_shards` (the original's round-robin). Shards appear under
their final names only when the whole split succeeded, with a manifest that tells readers whether
the set is complete (`tf_record_creation_util`, `shard_manifest`); temporary files of an earlier,
killed run are removed at the start. Workers exit when this process dies (even by
SIGKILL), see `coco_image_worker.init_worker`.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import glob
import multiprocessing
import os
import sys
import time

from object_detection.core.errors import DataError
from object_detection.dataset_tools import coco_annotations
from object_detection.dataset_tools import coco_image_worker
from object_detection.dataset_tools import progress as progress_lib

# TensorFlow-dependent modules (dataset_util, tf_record_creation_util) are imported inside
# convert_coco_split: spawned workers re-import the parent's __main__ (this module's importers), and
# importing TensorFlow there would cost ~2 s and ~300 MB per worker for nothing.


@dataclasses.dataclass
class ConversionSummary:
  """What a split conversion wrote and skipped.

  images_skipped / annotations_skipped / categories_skipped: Counter {reason: count}.
  Annotations that belonged to a skipped image are counted under "image_skipped".
  """
  name: str
  output_paths: list
  images_written: int = 0
  annotations_written: int = 0
  images_skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  annotations_skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  categories_skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  problems: list = dataclasses.field(default_factory=list)
  seconds: float = 0.0
  categories: dict = dataclasses.field(default_factory=dict)  # {category id: name} of the json
  manifest_path: str = ""  # the shard set's manifest (dataset_tools/shard_manifest.py)

  def format(self):
    """Multi-line human summary (written at the end of every run)."""
    lines = [f"{self.name}: wrote {self.images_written} images, {self.annotations_written} annotations "
             f"to {len(self.output_paths)} shard(s) in {self.seconds:.1f} s"]
    for title, counter in (("images", self.images_skipped), ("annotations", self.annotations_skipped)):
      total = sum(counter.values())
      details = ", ".join(f"{reason}: {n}" for reason, n in sorted(counter.items()))
      lines.append(f"{self.name}: skipped {total} {title}" + (f" ({details})" if total else ""))
    if self.categories_skipped:
      details = ", ".join(f"{r}: {n}" for r, n in sorted(self.categories_skipped.items()))
      lines.append(f"{self.name}: skipped {sum(self.categories_skipped.values())} categories "
                   f"({details})")
    return "\n".join(lines)


def convert_coco_split(*, image_dir, annotations_file, output_base, num_shards, include_masks=False,
                       num_workers=None, strict=False,
                       max_image_pixels=coco_image_worker.DEFAULT_MAX_IMAGE_PIXELS,
                       progress_stream=sys.stderr, report=None, name=None, shard_suffix=""):
  """Converts one split.

  Args:
    image_dir: str, directory the COCO `file_name`s are relative to.
    annotations_file: str, COCO instances json (or image_info json without annotations).
    output_base: str, shard prefix; shards are `<output_base>-%05d-of-%05d<shard_suffix>`.
    num_shards: int >= 1.
    include_masks: bool, write `image/object/mask` (one PNG per instance).
    num_workers: int worker processes (None: all available cores; 1: in this process). Workers
      are spawned, so a script calling this with num_workers > 1 needs the usual
      `if __name__ == "__main__":` guard.
    strict: bool, raise DataError at the first bad input instead of skipping it.
    max_image_pixels: int, larger images are refused (decompression-bomb guard).
    progress_stream: where the progress bar goes (None: silent).
    report: callable(str) for each skipped input (default: print to stderr).
    name: str label for messages (default: basename of output_base).
    shard_suffix: str after the shard numbers (e.g. ".tfrecord").

  Returns:
    ConversionSummary.

  Raises:
    DataError: missing image directory, unreadable annotations file, or any bad input when
      `strict`. No final-named shard
      is created (or replaced) when this raises.
  """
  # pylint: disable=import-outside-toplevel (see the note at the imports)
  from object_detection.dataset_tools import shard_manifest
  from object_detection.dataset_tools import tf_record_creation_util
  from object_detection.dataset_tools.dataset_util import make_tf_example

  name = name or os.path.basename(output_base)
  if not os.path.isdir(image_dir):
    raise DataError(f"{image_dir}: image directory not found (expected the directory that the "
                    f"file_names of {annotations_file} are relative to)")
  start = time.monotonic()
  images, by_image, categories, load_problems = coco_annotations.load_coco_instances(annotations_file)
  summary = ConversionSummary(
      name, tf_record_creation_util.shard_paths(output_base, num_shards, shard_suffix))
  summary.categories = dict(categories)
  summary.manifest_path = shard_manifest.manifest_path(output_base, num_shards)
  bar = progress_lib.Progress(len(images), name, progress_stream)
  report = report or (lambda message: bar.message(f"warning: {message}", sys.stderr))

  def record(problem):
    if strict:
      raise DataError(f"{problem.message} [{problem.reason}; --strict stops at the first bad input]")
    report(problem.message)
    summary.problems.append(problem)
    if problem.reason in coco_image_worker.CATEGORY_REASONS:
      summary.categories_skipped[problem.reason] += 1
    elif problem.annotation_id is None and problem.reason in coco_image_worker.IMAGE_REASONS:
      summary.images_skipped[problem.reason] += 1
    else:
      summary.annotations_skipped[problem.reason] += 1

  for problem in load_problems:
    record(problem)
  config = coco_image_worker.WorkerConfig(
      categories=categories, image_dir=image_dir, include_masks=include_masks,
      max_image_pixels=max_image_pixels, source=annotations_file)
  tasks = [(image, by_image.get(image["id"], [])) for image in images]
  os.makedirs(os.path.dirname(os.path.abspath(output_base)), exist_ok=True)
  tf_record_creation_util.remove_stale_temporaries(
      [tf_record_creation_util.temp_pattern(output_base + "-")], report)
  with contextlib.ExitStack() as stack:
    writers = tf_record_creation_util.open_sharded_output_tfrecords(
        stack, output_base, num_shards, shard_suffix)
    for (image, annotations), result in zip(tasks, _results(stack, config, tasks, num_workers)):
      for problem in result.problems:
        record(problem)
      if result.features is None:
        summary.annotations_skipped["image_skipped"] += len(annotations)
      else:
        example = make_tf_example(**result.features)
        writers[summary.images_written % num_shards].write(example.SerializeToString())
        summary.images_written += 1
        summary.annotations_written += result.num_annotations
      bar.update()
    bar.close()
  summary.seconds = time.monotonic() - start
  _warn_about_stale_shards(output_base, shard_suffix, summary.output_paths, report)
  return summary


def available_cpus():
  """CPUs this process may run on (the affinity mask, which containers narrow), at least 1."""
  try:
    return max(1, len(os.sched_getaffinity(0)))
  except AttributeError:  # not on Linux
    return max(1, os.cpu_count() or 1)


def _results(stack, config, tasks, num_workers):
  """Yields ImageResults in task order, from a process pool or from this process."""
  num_workers = available_cpus() if num_workers is None else int(num_workers)
  num_workers = max(1, min(num_workers, len(tasks)))
  if num_workers == 1:
    return (coco_image_worker.convert_image(config, image, anns) for image, anns in tasks)
  # spawn: this process has TensorFlow loaded (threads), which fork would copy in a bad state.
  # ProcessPoolExecutor rather than multiprocessing.Pool: a worker that dies (OOM killer, a crash
  # in a native decoder) raises BrokenProcessPool here instead of hanging the run forever.
  executor = concurrent.futures.ProcessPoolExecutor(
      num_workers, mp_context=multiprocessing.get_context("spawn"),
      initializer=coco_image_worker.init_worker, initargs=(config, os.getpid()))
  # On an error, drop the queued work instead of finishing it (the shards are discarded anyway).
  stack.callback(executor.shutdown, wait=True, cancel_futures=True)
  chunksize = max(1, min(16, len(tasks) // (4 * num_workers)))
  return executor.map(coco_image_worker.convert_in_worker, tasks, chunksize=chunksize)


def _warn_about_stale_shards(output_base, suffix, current, report):
  five_digits = "[0-9]" * 5
  pattern = f"{glob.escape(output_base)}-{five_digits}-of-{five_digits}{glob.escape(suffix)}"
  stale = sorted(set(glob.glob(pattern)) - set(current))
  if stale:
    report(f"{output_base}: {len(stale)} shard(s) from an earlier run with another --num_shards "
           f"remain (e.g. {stale[0]!r}); delete them, a glob on the prefix would read both sets")
