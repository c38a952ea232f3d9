"""Shard-set manifests: a set of TFRecord shards is complete, or visibly incomplete.

The dataset tools write shards `<base>-00000-of-00004<suffix>` ... under temporary names and
rename them at the end. A process killed during those renames (kill -9, power loss) used to leave
some final-named shards and nothing to say that others were missing. Now the writer also keeps
`<base>-of-00004.manifest.json` (no shard glob such as `<base>-?????-of-00004` matches it):

  1. all shards written and closed under temporary names;
  2. manifest written with "complete": false (atomically: temporary name, then rename);
  3. shards renamed to their final names;
  4. manifest rewritten with "complete": true.

A crash before 2 leaves only temporary files (any earlier set untouched); between 2 and 4 the
manifest says the set is incomplete. Readers (`builders/dataset_builder.py`) call
`check_shard_sets` on the files they are about to read: a set whose manifest is incomplete, lists
a shard that is missing, or lists a size that differs from the file on disk is a `DataError`
naming the shards (a manifest not yet marked complete is accepted when every shard it lists is
there with its listed size). Sets without a manifest (the original's tool, hand-made files) are read as
before. Format (json): {"format": "deepmac.shard_manifest", "version": 1, "complete": bool,
"num_records": int, "shards": [{"file": basename, "records": int, "bytes": int}, ...]}.
"""

import json
import os
import posixpath
import re

import tensorflow as tf

from object_detection.core.errors import DataError

FORMAT = "deepmac.shard_manifest"
VERSION = 1
SUFFIX = ".manifest.json"
_SHARD_NAME = re.compile(r"^(?P<base>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})(?P<suffix>.*)$")


def manifest_path(base_path, num_shards):
  """`<base_path>-of-<num_shards:05d>.manifest.json`."""
  return f"{base_path}-of-{int(num_shards):05d}{SUFFIX}"


def is_manifest(path):
  return str(path).endswith(SUFFIX)


def manifest_for_shard(path):
  """The manifest path of a shard named `<base>-<iiiii>-of-<nnnnn><suffix>`, else None."""
  match = _SHARD_NAME.match(str(path))
  if match is None or is_manifest(path):
    return None
  return manifest_path(match.group("base"), int(match.group("count")))


def write(path, shards, complete):
  """Writes a manifest atomically (temporary name, then rename).

  Args:
    path: str, the manifest path (local file system).
    shards: list of (shard path, number of records, number of bytes).
    complete: bool, whether every shard already has its final name.
  """
  data = {"format": FORMAT, "version": VERSION, "complete": bool(complete),
          "num_records": int(sum(records for _, records, _ in shards)),
          "shards": [{"file": os.path.basename(p), "records": int(r), "bytes": int(b)}
                     for p, r, b in shards]}
  temp = f"{path}.tmp-{os.getpid()}"
  with open(temp, "w", encoding="utf8") as f:
    json.dump(data, f, indent=1)
    f.flush()
    os.fsync(f.fileno())
  os.replace(temp, path)


def read(path):
  """The manifest at `path` as a dict; DataError when it is not a manifest we can use."""
  try:
    with tf.io.gfile.GFile(path, "r") as f:
      data = json.loads(f.read())
  except (ValueError, UnicodeDecodeError, tf.errors.OpError) as e:
    raise DataError(f"{path}: shard manifest does not read as json ({type(e).__name__}: {e}); "
                    "rerun the conversion, or delete the manifest to read the shards "
                    "unchecked") from e
  shards = data.get("shards") if isinstance(data, dict) else None
  if (not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(shards, list)
      or not all(isinstance(s, dict) and isinstance(s.get("file"), str)
                 and isinstance(s.get("records"), int) and isinstance(s.get("bytes"), int)
                 for s in shards)):
    raise DataError(f"{path}: not a shard manifest (expected {{'format': '{FORMAT}', "
                    "'shards': [{'file', 'records', 'bytes'}, ...]}); rerun the conversion, or "
                    "delete it to read the shards unchecked")
  return data


def _file_size(path, sizes):
  if path not in sizes:
    try:
      sizes[path] = tf.io.gfile.stat(path).length
    except tf.errors.NotFoundError:
      sizes[path] = None
  return sizes[path]


def check_shard_sets(files, where, sizes=None):
  """Checks the manifest of every shard set that `files` belong to.

  Args:
    files: paths about to be read.
    where: str prefix of error messages (e.g. the config field path).
    sizes: optional {path: size in bytes or None when missing}, a cache filled as files are stat'ed.
  Returns:
    {shard path: number of records} for the shards that a manifest describes.
  Raises:
    DataError: a manifest lists a shard that is missing or whose size differs from the file's
      (the message names them, and says when the set was never marked complete).
  """
  sizes = {} if sizes is None else sizes
  manifests = sorted({m for m in map(manifest_for_shard, files) if m is not None})
  records = {}
  for path in manifests:
    if not tf.io.gfile.exists(path):
      continue
    data = read(path)
    directory = posixpath.dirname(path) if "://" in path else os.path.dirname(path)
    listed = [(posixpath.join(directory, s["file"]) if "://" in path
               else os.path.join(directory, s["file"]), s) for s in data["shards"]]
    missing = [p for p, _ in listed if _file_size(p, sizes) is None]
    changed = [(p, s["bytes"], sizes[p]) for p, s in listed
               if sizes.get(p) is not None and sizes[p] != s["bytes"]]
    # A set whose manifest was not yet marked complete is still accepted when every listed shard
    # is there with its listed size: only the final rewrite of the manifest was missing.
    if missing or changed:
      if not data.get("complete"):
        cause = ("the conversion that wrote it stopped while renaming its shards (killed?), so "
                 "some are missing or still from an earlier run")
      elif missing:
        cause = "shards were deleted or not copied"
      else:
        cause = "the files changed or were cut short after the conversion"
      details = []
      if missing:
        details.append(f"{len(missing)} of {len(listed)} shards missing: {_names(missing)}")
      if changed:
        details.append(f"{len(changed)} differ from the manifest: " + ", ".join(
            f"{os.path.basename(p)} has {got} bytes, expected {want}"
            for p, want, got in changed[:3]) + (", ..." if len(changed) > 3 else ""))
      raise DataError(
          f"{where}: shard set {path} is incomplete ({'; '.join(details)}); {cause}. Rerun the "
          "conversion (or delete the manifest to read the shards unchecked)")
    records.update({p: s["records"] for p, s in listed})
  return records


def _names(paths, limit=5):
  names = [os.path.basename(p) for p in paths[:limit]]
  return ", ".join(names) + (f", ... {len(paths) - limit} more" if len(paths) > limit else "")
