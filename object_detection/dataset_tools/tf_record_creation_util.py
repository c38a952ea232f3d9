"""Sharded TFRecord output that never leaves a truncated file under a final name.

`open_sharded_output_tfrecords(exit_stack, base_path, num_shards)` keeps the original's signature
and names (`<base_path>-00000-of-00010`). Unlike the original, each shard is written to
`<final name>.tmp-<pid>` and renamed to its final name only when the `ExitStack` closes without an
exception; on an exception (a `--strict` error, Ctrl-C, a crash in a worker) the temporary files
are deleted and any existing file with the final name is left untouched. A process killed with
SIGKILL leaves only `*.tmp-<pid>` files, which no `*-of-NNNNN` glob matches.
"""

import os

import tensorflow as tf


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
    list of `num_shards` `tf.io.TFRecordWriter`s; write example `i` to `writers[i % num_shards]`.
  """
  if int(num_shards) < 1:
    raise ValueError(f"open_sharded_output_tfrecords: num_shards must be >= 1 (got {num_shards})")
  return open_atomic_tfrecords(exit_stack, shard_paths(base_path, int(num_shards), suffix))


def open_atomic_tfrecords(exit_stack, final_paths):
  """Opens one writer per path in `final_paths`, each written to a temp name and renamed on success.

  Returns:
    list of `tf.io.TFRecordWriter`, in the order of `final_paths`.
  """
  suffix = f".tmp-{os.getpid()}"
  temp_paths = [path + suffix for path in final_paths]
  writers = []

  def finish(exc_type, exc, tb):
    del exc, tb
    for writer in writers:
      writer.close()
    if exc_type is None:
      for temp, final in zip(temp_paths, final_paths):
        os.replace(temp, final)
    else:
      for temp in temp_paths:
        if os.path.exists(temp):
          os.remove(temp)
    return False  # never swallow the exception

  exit_stack.push(finish)
  for temp in temp_paths:
    writers.append(tf.io.TFRecordWriter(temp))
  return writers
