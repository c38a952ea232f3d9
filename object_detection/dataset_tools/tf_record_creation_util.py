"""Sharded TFRecord output that never leaves a truncated file under a final name.

`open_sharded_output_tfrecords(exit_stack, base_path, num_shards)` keeps the original's signature
and names (`<base_path>-00000-of-00010`). Unlike the original, each shard is written to
`<final name>.tmp-<pid>` and renamed to its final name only when the `ExitStack` closes without an
exception; on an exception (a `--strict` error, Ctrl-C, a crash in a worker) the temporary files
are deleted and any existing file with the final name is left untouched. A sharded set also gets
a manifest (`shard_manifest.py`: shard names, record and byte counts) written before and after
the renames, so that a process killed while renaming leaves a set that readers see is
incomplete. A process killed earlier leaves only `*.tmp-<pid>` files, which no `*-of-NNNNN` glob
matches and which `remove_stale_temporaries` deletes at the next run's start.
"""

import glob
import os
import re

import tensorflow as tf

from object_detection.dataset_tools import shard_manifest

_TEMP_PID = re.compile(r"\.tmp-(\d+)$")


def shard_paths(base_path, num_shards, suffix=""):
  """Final shard names: `[f"{base_path}-{i:05d}-of-{num_shards:05d}{suffix}"]`."""
  return [f"{base_path}-{idx:05d}-of-{num_shards:05d}{suffix}" for idx in range(num_shards)]


def open_sharded_output_tfrecords(exit_stack, base_path, num_shards, suffix=""):
  """Opens `num_shards` TFRecord writers whose files appear atomically when `exit_stack` closes.

  Args:
    exit_stack: a `contextlib.ExitStack`; the writers are closed (and their files renamed or
      removed) when it exits.
    base_path: str, output path prefix (its directory must exist).
    num_shards: int >= 1.
    suffix: str after the shard numbers (the Model Garden writer's ".tfrecord"; the original
      OD API tool uses none).

  Returns:
    list of `num_shards` writers (`write(bytes)`, like `tf.io.TFRecordWriter`); write example `i`
    to `writers[i % num_shards]`. On success `shard_manifest.manifest_path(base_path, num_shards)`
    describes the set.
  """
  if int(num_shards) < 1:
    raise ValueError(f"open_sharded_output_tfrecords: num_shards must be >= 1 (got {num_shards})")
  return open_atomic_tfrecords(exit_stack, shard_paths(base_path, int(num_shards), suffix),
                               shard_manifest.manifest_path(base_path, int(num_shards)))


class _CountingWriter:
  """A TFRecordWriter that counts the records it wrote."""

  def __init__(self, path):
    self._writer = tf.io.TFRecordWriter(path)
    self.records = 0

  def write(self, record):
    self._writer.write(record)
    self.records += 1

  def flush(self):
    self._writer.flush()

  def close(self):
    self._writer.close()


def open_atomic_tfrecords(exit_stack, final_paths, manifest_path=None):
  """Opens one writer per path in `final_paths`, each written to a temp name and renamed on success.

  Args:
    exit_stack: a `contextlib.ExitStack` (see `open_sharded_output_tfrecords`).
    final_paths: list of str, the files to create.
    manifest_path: optional str; when given, a shard manifest is written there before the renames
      (marked incomplete) and after them (marked complete).
  Returns:
    list of writers, in the order of `final_paths`.
  """
  suffix = f".tmp-{os.getpid()}"
  temp_paths = [path + suffix for path in final_paths]
  writers = []

  def finish(exc_type, exc, tb):
    del exc, tb
    for writer in writers:
      writer.close()
    if exc_type is None:
      entries = [(final, writer.records, os.path.getsize(temp))
                 for final, temp, writer in zip(final_paths, temp_paths, writers)]
      if manifest_path:
        shard_manifest.write(manifest_path, entries, complete=False)
      for temp, final in zip(temp_paths, final_paths):
        os.replace(temp, final)
      if manifest_path:
        shard_manifest.write(manifest_path, entries, complete=True)
    else:
      for temp in temp_paths:
        if os.path.exists(temp):
          os.remove(temp)
    return False  # never swallow the exception

  exit_stack.push(finish)
  for temp in temp_paths:
    writers.append(_CountingWriter(temp))
  return writers


def remove_stale_temporaries(patterns, report=None):
  """Deletes `*.tmp-<pid>` files left by killed runs (their process no longer exists).

  Args:
    patterns: glob patterns of temporary files (e.g. `temp_pattern(base_path)`).
    report: optional callable(str) told about what was removed or left.
  Returns:
    list of the removed paths. Files of a process that still runs (another conversion into the
    same place) are left, and reported.
  """
  removed, alive = [], []
  for path in sorted({p for pattern in patterns for p in glob.glob(pattern)}):
    match = _TEMP_PID.search(path)
    if match is None:
      continue
    pid = int(match.group(1))
    if pid == os.getpid():
      continue  # our own, in use
    if _process_exists(pid):
      alive.append(path)
      continue
    try:
      os.remove(path)
      removed.append(path)
    except FileNotFoundError:
      pass
  if report and removed:
    report(f"removed {len(removed)} temporary file(s) left by an interrupted run "
           f"(e.g. {removed[0]!r})")
  if report and alive:
    report(f"{len(alive)} temporary file(s) belong to a process that still runs (e.g. "
           f"{alive[0]!r}); is another conversion writing to the same place?")
  return removed


def temp_pattern(final_prefix):
  """Glob of the temporary files of every output whose name starts with `final_prefix`."""
  return f"{glob.escape(final_prefix)}*.tmp-*"


def _process_exists(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # someone else's process
    return True
  return True
