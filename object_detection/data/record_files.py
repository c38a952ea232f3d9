"""TFRecord files -> (path, record index, record), with every unreadable file named.

Two checks:

* At start (`check_input_files`, plain Python): each file is stat'ed and the header of its first
  record read (12 bytes: length + masked CRC-32C of the length). Empty files are passed over;
  files that are not TFRecords (a README caught by a glob, a truncated copy) are reported and left
  out (or, strict, stop the run); shard-set manifests are checked (`shard_manifest`). Input that
  holds no record at all is a `DataError` here: training used to spin on an empty file forever,
  printing nothing and ignoring Ctrl-C.
* While reading (`read_records`, inside tf.data): a file whose records stop before its end
  (truncated, corrupt CRC) used to end training with `DataLossError ... truncated record` naming
  no file. Each file is read with `ignore_errors` and the bytes of the records read are summed
  (16 + length each); when the file ends short of its size, the rest of it is reported as
  unreadable (`record_guard.health(name).file_failed`) and reading goes on.
"""

import concurrent.futures
import logging
import struct

import tensorflow as tf

from object_detection.core.errors import DataError
from object_detection.data import record_guard
from object_detection.data import resumable_order
from object_detection.dataset_tools import shard_manifest

_LOG = logging.getLogger(__name__)

RECORD_OVERHEAD = 16  # uint64 length, uint32 masked crc of it, data, uint32 masked crc of data


def _crc32c_table():
  table = []
  for i in range(256):
    crc = i
    for _ in range(8):
      crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    table.append(crc)
  return table


_CRC_TABLE = _crc32c_table()


def masked_crc32c(data):
  """TFRecord's masked CRC-32C (Castagnoli) of `data` bytes."""
  crc = 0xFFFFFFFF
  for byte in data:
    crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  crc ^= 0xFFFFFFFF
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def header_problem(header, size):
  """Why a file of `size` bytes starting with `header` is not a TFRecord file, or None."""
  if size < RECORD_OVERHEAD or len(header) < 12:
    return f"not a TFRecord file ({size} bytes; a record takes at least {RECORD_OVERHEAD})"
  length, crc = struct.unpack("<QI", header[:12])
  if masked_crc32c(header[:8]) != crc:
    return ("not a TFRecord file (the first record's length checksum does not match; "
            f"starts with {bytes(header[:12])!r})")
  if RECORD_OVERHEAD + length > size:
    return (f"truncated: its first record needs {RECORD_OVERHEAD + length} bytes, the file has "
            f"{size}")
  return None


def _probe(path):
  """(size in bytes, header problem or None) of one file."""
  size = tf.io.gfile.stat(path).length
  if size == 0:
    return 0, None
  with tf.io.gfile.GFile(path, "rb") as f:
    header = f.read(12)
  return size, header_problem(header, size)


def _first_record_readable(path):
  try:
    for _ in tf.data.TFRecordDataset(path).take(1):
      return True
  except tf.errors.OpError:
    return False
  return False


def check_input_files(files, name, where, strict=False):
  """The files worth reading and their sizes; bad ones are reported (or, strict, fatal).

  Args:
    files: list of str paths (this input pipeline's share).
    name: reader name for reports (`record_guard.health(name)`).
    where: config field path for error messages.
    strict: raise DataError for any file that is not a TFRecord file.
  Returns:
    (paths, sizes): the non-empty TFRecord files, in order, and their sizes in bytes.
  Raises:
    DataError: a manifest problem (`shard_manifest.check_shard_sets`), a bad file when strict,
      or no record in any file.
  """
  with concurrent.futures.ThreadPoolExecutor(min(16, max(1, len(files)))) as pool:
    probes = list(pool.map(_probe, files))
  sizes = {path: size for path, (size, _) in zip(files, probes)}
  known_records = shard_manifest.check_shard_sets(files, where, sizes)
  usable, usable_sizes, problems = [], [], []
  for path, (size, problem) in zip(files, probes):
    if problem is not None:
      problems.append(f"{path} ({problem})")
      if strict:
        raise DataError(f"{where}: {path}: {problem} (input_reader.strict_records stops at the "
                        "first bad file)")
      record_guard.health(name).file_failed(path, problem + "; the file is skipped")
    elif size > 0 and known_records.get(path, 1) > 0:
      usable.append(path)
      usable_sizes.append(size)
  # Short-circuits at the first file whose first record reads (normally the first file).
  if not any(_first_record_readable(path) for path in usable):
    empty = len(files) - len(usable) - len(problems)
    details = "; ".join(problems[:3]) + (", ..." if len(problems) > 3 else "")
    raise DataError(
        f"{where}: no records to read (got {len(files)} file(s): {empty} empty, "
        f"{len(problems)} not TFRecord files{': ' + details if problems else ''}"
        f"{f', {len(usable)} whose first record does not read' if usable else ''}; expected "
        "TFRecord files of tf.train.Example)")
  return usable, usable_sizes


def read_records(files, sizes, name, num_readers, block_length, shuffle=False, seed=None,
                 filenames_shuffle_buffer_size=100, num_epochs=0, deterministic=True,
                 buffer_size=8 * 1000 * 1000, stop_table=None, shuffle_buffer_size=2048,
                 start=0):
  """Interleaved records of `files`, each with its file and 0-based index in that file.

  Per file, the records come from `TFRecordDataset(...).ignore_errors()` (a read error ends that
  file's records), zipped with their index and followed by an end marker; the inner datasets hold
  no functions, so opening a file costs no function instantiation. One sequential filter sums the
  bytes of each file visit's records (16 + length each) and, at the end marker, reports a file
  read short of its size (`record_guard.health(name).file_failed`) and drops the marker.

  With a `seed`, the order is resumable_order's: files in groups (one permutation per epoch
  keyed by (seed, epoch)), each group's records block-shuffled (when `shuffle`) and numbered with
  their position; the stream starts at position `start`. Without one: a shuffle buffer of file
  names, and the caller shuffles the records.

  Args:
    files, sizes: from `check_input_files`.
    name: reader name for reports.
    num_readers: files read at once (cycle length); block_length: records taken from each in turn.
    shuffle: shuffle the file order (each epoch), buffer `filenames_shuffle_buffer_size`
      (with a seed: a full permutation per epoch, and the records in blocks of
      `shuffle_buffer_size`).
    seed: optional int (see above); start: with a seed, the position to start at.
    num_epochs: 0 = repeat forever.
    stop_table: optional `record_guard.make_stop_table()`: a DataError (strict) is stored there
      for the downstream `record_guard.guarded_map` to raise, instead of raised here.
  Returns:
    tf.data.Dataset of (path [] string, index [] int64, record [] string), with a seed followed
    by the record's position [] int64.
  """
  state = record_guard.health(name)
  # file visit (a file read once in one epoch) -> [records read, bytes read]
  progress = tf.lookup.experimental.MutableHashTable(tf.int64, tf.int64, [0, 0])

  def report(path, count, nbytes, size):
    count, nbytes, size = int(count), int(nbytes), int(size)
    state.file_failed(path.numpy().decode("utf8", "replace"),
                      f"unreadable from record {count} on (byte {nbytes} of {size}): truncated or "
                      "corrupt; the rest of the file is skipped")

  @tf.autograph.experimental.do_not_convert
  def per_file(visit, file):
    path, size = file
    info = tf.data.Dataset.from_tensors((path, visit, size)).repeat()
    records = tf.data.TFRecordDataset(path, buffer_size=buffer_size).ignore_errors()
    body = tf.data.Dataset.zip((info, tf.data.Dataset.range(tf.int64.max), records))
    end = tf.data.Dataset.from_tensors(((path, visit, size), tf.constant(-1, tf.int64),
                                        tf.constant("", tf.string)))
    return body.concatenate(end)

  @tf.autograph.experimental.do_not_convert
  def account(info, index, record):
    """Keeps records, drops end markers; counts bytes per visit; reports short files."""
    path, visit, size = info
    key = visit[None]
    found = tf.reshape(progress.lookup(key), [2])
    count, nbytes = found[0], found[1]

    def at_end():
      short = tf.not_equal(nbytes, size)
      reported = tf.cond(short, lambda: record_guard.report_in_graph(
          report, [path, count, nbytes, size], stop_table), lambda: tf.constant(""))
      with tf.control_dependencies([reported, progress.remove(key)]):
        return tf.constant(False)

    def at_record():
      length = tf.cast(tf.strings.length(record), tf.int64) + RECORD_OVERHEAD
      with tf.control_dependencies([progress.insert(key, tf.stack([count + 1, nbytes + length])[None])]):
        return tf.constant(True)

    return tf.cond(index >= 0, at_record, at_end)

  if seed is not None:
    return _resumable(files, sizes, num_readers, block_length, shuffle, seed, num_epochs,
                      shuffle_buffer_size, start, per_file, account)
  dataset = tf.data.Dataset.from_tensor_slices(
      (tf.constant(files, tf.string), tf.constant(sizes, tf.int64)))
  if shuffle:
    dataset = dataset.shuffle(max(1, int(filenames_shuffle_buffer_size)), seed=seed,
                              reshuffle_each_iteration=True)
  dataset = dataset.repeat(int(num_epochs) or None).enumerate()
  num_readers = max(1, min(int(num_readers), len(files)))
  parallel = ({"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": deterministic}
              if num_readers > 1 else {})
  dataset = dataset.interleave(per_file, cycle_length=num_readers,
                               block_length=max(1, int(block_length)), **parallel)
  return dataset.filter(account).map(_path_index_record)


def _resumable(files, sizes, num_readers, block_length, shuffle, seed, num_epochs,
               shuffle_buffer_size, start, per_file, account):
  """read_records' seeded order (data/resumable_order.py), from position `start`."""
  size = resumable_order.group_size(len(files), num_readers)
  table = (tf.constant(files, tf.string), tf.constant(sizes, tf.int64))
  start = int(start)
  groups = resumable_order.file_groups(len(files), size, num_epochs, shuffle, seed,
                                       start_group=start >> resumable_order.INDEX_BITS)

  @tf.autograph.experimental.do_not_convert
  def group_records(g, members):
    visits = tf.data.Dataset.from_tensor_slices(tuple(tf.gather(t, members) for t in table))
    visits = visits.enumerate().map(lambda slot, file: (g * size + slot, file))
    records = visits.interleave(
        per_file, cycle_length=size, block_length=max(1, int(block_length)),
        **({"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True} if size > 1 else {}))
    records = records.filter(account).map(_path_index_record)
    if shuffle:
      records = resumable_order.block_shuffle(records, shuffle_buffer_size, seed, g)
    return records.enumerate().map(
        lambda i, r: (*r, resumable_order.position(g, i)))

  dataset = groups.flat_map(group_records)
  if start:
    dataset = dataset.filter(lambda path, index, record, pos: pos >= start)
  return dataset


def _path_index_record(info, index, record):
  return info[0], index, record
