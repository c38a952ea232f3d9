"""Bad records in the input pipeline: skipped, counted and named, or (strict) the end of the run.

    dataset = record_guard.guarded_map(records, fn, name="train_input_reader", diagnose=explain)

`records` yields `(path [] string, index [] int64, record [] string, *extra)`; `fn(record, *extra)`
is the per-record work (decode, then augment / preprocess / pad). A record on which `fn` fails
(malformed proto, missing image/encoded, undecodable image, mask count != box count, ...) used to
end training with a raw TF error at whatever step drew it, naming no file. Here it is dropped
(`ignore_errors`) and found again by its sequence number (see `guarded_map`), then, on this rare
path only, a `tf.py_function` asks `diagnose(record, *extra)` for the reason, logs
`<name>: skipped record <index> of <path>: <reason>` (once per record) and counts it in
`health(name)`. Output shapes are those of `fn` (static ones stay static).

With `health(name).strict`, the first bad record raises `DataError` instead (as does a pipeline
where more than half of at least `MIN_FAILURES_FOR_FATAL` records fail: wrong `mask_type`,
masks missing from every record... must stop, not skip forever). TensorFlow wraps an error raised
in the pipeline; training and eval loops call `raise_pending(error)` to re-raise the `DataError`.

Counts per reader name (`health(name)`, `totals()`) feed the training and eval summaries.
"""

import collections
import logging
import threading

import numpy as np
import tensorflow as tf

from object_detection.core.errors import DataError

_LOG = logging.getLogger(__name__)

# A pipeline where at least this many records failed, and more than half of all records seen,
# is misconfigured rather than holding a few bad records: stop with DataError.
MIN_FAILURES_FOR_FATAL = 100
MAX_LOGGED_RECORDS = 10_000  # distinct (file, record) pairs remembered to log each only once


class InputHealth:
  """What one reader (e.g. `train_input_reader`) skipped. Thread-safe.

  skipped_records: int, records that failed (each time one is met, so once per epoch).
  unreadable_files: int, files (or file tails) that could not be read.
  recent: deque of the last 20 messages.
  strict: bool, raise DataError at the first bad record or file instead of skipping.
  """

  def __init__(self, name):
    self.name = name
    self.strict = False
    self.skipped_records = 0
    self.unreadable_files = 0
    self.recent = collections.deque(maxlen=20)
    self.fatal = None
    self._logged = set()
    self._lock = threading.Lock()

  def record_failed(self, path, index, seq, reason):
    """Counts a record that failed; raises DataError when strict or when most records fail.

    Args:
      path: str file; index: int record index in the file (0-based); seq: int, 0-based position
        of the record among those that reached decoding; reason: str.
    """
    message = f"{self.name}: skipped record {index} of {path}: {reason}"
    with self._lock:
      if self.fatal is not None:  # the pipeline is stopping; records met meanwhile don't count
        raise self.fatal
      self.skipped_records += 1
      self.recent.append(message)
      first_time = self._remember((path, index))
      if self.strict:
        self._fail(f"{self.name}: record {index} of {path}: {reason} (input_reader.strict_records "
                   "stops at the first bad record; set it false to skip and count bad records)")
      if (self.skipped_records >= MIN_FAILURES_FOR_FATAL
          and 2 * self.skipped_records > seq + 1):
        self._fail(f"{self.name}: {self.skipped_records} of the first {seq + 1} records failed "
                   f"(last: record {index} of {path}: {reason}); the input reader settings "
                   "(mask_type, load_instance_masks, label_map_path) probably do not match these "
                   "files")
    if first_time:
      _LOG.warning("%s", message)

  def file_failed(self, path, reason):
    """Counts a file (or the rest of a file) that cannot be read; raises DataError when strict."""
    message = f"{self.name}: {path}: {reason}"
    with self._lock:
      if self.fatal is not None:
        raise self.fatal
      self.unreadable_files += 1
      self.recent.append(message)
      first_time = self._remember((path, None))
      if self.strict:
        self._fail(f"{message} (input_reader.strict_records stops at the first bad file)")
    if first_time:
      _LOG.warning("%s", message)

  def _remember(self, key):
    """True the first time `key` is met (log it). Past MAX_LOGGED_RECORDS keys nothing new is
    logged (still counted), which bounds memory and log volume."""
    if key in self._logged or len(self._logged) >= MAX_LOGGED_RECORDS:
      return False
    self._logged.add(key)
    return True

  def _fail(self, message):
    self.fatal = self.fatal or DataError(message)
    raise self.fatal


_HEALTH = {}
_HEALTH_LOCK = threading.Lock()


def health(name):
  """The InputHealth of reader `name` (created on first use)."""
  with _HEALTH_LOCK:
    if name not in _HEALTH:
      _HEALTH[name] = InputHealth(name)
    return _HEALTH[name]


def reset():
  """Forgets every reader's counts (tests; a new run in the same process)."""
  with _HEALTH_LOCK:
    _HEALTH.clear()


def totals():
  """{"skipped_records": int, "unreadable_files": int} summed over the readers."""
  with _HEALTH_LOCK:
    readers = list(_HEALTH.values())
  return {"skipped_records": sum(h.skipped_records for h in readers),
          "unreadable_files": sum(h.unreadable_files for h in readers)}


def recent_messages():
  """The last messages of every reader (for a text summary)."""
  with _HEALTH_LOCK:
    readers = list(_HEALTH.values())
  return [m for h in readers for m in h.recent]


def raise_pending(error=None):
  """Raises the DataError that stopped an input pipeline, if any (call on a TF error).

  Args:
    error: the exception TensorFlow raised (chained as the cause).
  """
  with _HEALTH_LOCK:
    fatal = next((h.fatal for h in _HEALTH.values() if h.fatal is not None), None)
  if fatal is not None:
    raise DataError(str(fatal)) from error


def make_stop_table():
  """A one-entry table through which a stage upstream of `guarded_map` stops the pipeline.

  `guarded_map` drops errors raised upstream of it (its `ignore_errors` cannot tell them apart),
  so the file reader (`record_files.read_records`) writes a DataError's message here instead and
  `guarded_map` raises it with the next record.
  """
  return tf.lookup.experimental.MutableHashTable(tf.int64, tf.string, "")


def report_in_graph(py_report, inputs, stop_table=None):
  """Runs `py_report(*inputs)` (a Python function that may raise DataError) in a py_function.

  A DataError does not escape the py_function (TensorFlow would log it with a Python traceback):
  its message is returned and raised by an in-graph assertion instead (or, with `stop_table`,
  stored there for `guarded_map` to raise), and `raise_pending` turns the resulting TF error back
  into the DataError.

  Returns:
    [] string tensor to use as a control dependency.
  """
  def call(*args):
    try:
      py_report(*args)
    except DataError as e:
      return str(e)
    return ""

  message = tf.reshape(tf.py_function(call, inputs, tf.string), [])
  if stop_table is not None:
    stored = tf.cond(tf.equal(message, ""), lambda: tf.constant(True), lambda: _store(
        stop_table, message))
    with tf.control_dependencies([stored]):
      return tf.identity(message)
  with tf.control_dependencies([tf.debugging.Assert(tf.equal(message, ""), [message])]):
    return tf.identity(message)


def _store(stop_table, message):
  with tf.control_dependencies([stop_table.insert(tf.constant([0], tf.int64), message[None])]):
    return tf.constant(True)


def _placeholder(spec):
  """Zeros (empty strings) of `spec`'s shape, unknown dimensions 0."""
  shape = ([0 if d is None else d for d in spec.shape.as_list()]
           if spec.shape.rank is not None else [])
  if spec.dtype == tf.string:
    return tf.fill(shape, tf.constant("", tf.string))
  return tf.zeros(shape, spec.dtype)


def guarded_map(dataset, fn, name, diagnose, num_parallel_calls=tf.data.AUTOTUNE,
                stop_table=None):
  """Applies `fn` to every record; records on which it fails are reported and dropped.

  How (the normal path has no Python and no nesting; ~tens of microseconds per record):
  1. each element gets a sequence number; its file, index, extras and record bytes are stashed
     in two hash tables under that number;
  2. `fn` runs in a parallel, order-preserving map followed by `ignore_errors`, so a failing
     record simply goes missing;
  3. a scan sees the sequence numbers in order: a gap means the records in it failed; they are
     looked up in the tables and reported (a py_function: the rare path); every record seen is
     removed from the tables. At the end of a finite dataset, whatever is left in the tables
     failed too and is reported.

  Args:
    dataset: elements `(path [] string, index [] int64, record [] string, *extra)`; extras are
      int64 tensors (e.g. a [2] augmentation seed).
    fn: `fn(record, *extra) -> structure of tensors`.
    name: reader name for messages and counts (`health(name)`).
    diagnose: `diagnose(record bytes, *extra numpy values) -> str`, the reason (eager, only
      called for failed records).
    num_parallel_calls: of the map that runs `fn` (its order is always kept: step 3 needs it).
    stop_table: optional `make_stop_table()` shared with the stages upstream; a message found
      there stops the pipeline.
  Returns:
    tf.data.Dataset of `fn`'s outputs.
  """
  state = health(name)
  infos = tf.lookup.experimental.MutableHashTable(tf.int64, tf.string, "")
  records = tf.lookup.experimental.MutableHashTable(tf.int64, tf.string, "")

  @tf.autograph.experimental.do_not_convert
  def stash(seq, element):
    path, index, record, *extra = element
    # "<index> <extra values...>\x1f<path>": one string per record.
    numbers = [tf.strings.as_string(index)] + [
        tf.strings.reduce_join(tf.strings.as_string(tf.reshape(e, [-1])), separator=",")
        for e in extra]
    info = tf.strings.join([tf.strings.join(numbers, " "), path], "\x1f")
    with tf.control_dependencies([infos.insert(seq[None], info[None]),
                                  records.insert(seq[None], record[None])]):
      return (tf.identity(seq), record, *extra)

  def report(keys, found_infos, found_records):
    for key, info, record in zip(keys.numpy(), found_infos.numpy(), found_records.numpy()):
      numbers, _, path = info.decode("utf8", "replace").partition("\x1f")
      if not numbers:
        state.record_failed("<unknown file>", -1, int(key), "failed (its file and index were "
                            "lost, e.g. after an iterator restore)")
        continue
      index, *extras = numbers.split(" ")
      extras = [np.array([int(v) for v in e.split(",")], np.int64) for e in extras]
      try:
        reason = diagnose(record, *extras)
      except Exception as e:  # pylint: disable=broad-except (the report itself must not fail)
        reason = f"failed, and so did finding out why ({type(e).__name__}: {e})"
      state.record_failed(path, int(index), int(key), reason)

  def report_keys(keys):
    reported = report_in_graph(report, [keys, infos.lookup(keys), records.lookup(keys)])
    with tf.control_dependencies([reported]):  # removed only once looked up and reported
      with tf.control_dependencies([infos.remove(keys), records.remove(keys)]):
        return tf.constant("")

  @tf.autograph.experimental.do_not_convert
  def check(expected, element):
    seq, out = element
    missing = tf.range(expected, seq)
    reported = tf.cond(tf.size(missing) > 0, lambda: report_keys(missing),
                       lambda: tf.constant(""))
    checks = [reported, infos.remove(seq[None]), records.remove(seq[None])]
    if stop_table is not None:
      stop = tf.reshape(stop_table.lookup(tf.constant([0], tf.int64)), [])
      checks.append(tf.debugging.Assert(tf.equal(stop, ""), [stop]))
    with tf.control_dependencies(checks):
      return seq + 1, tf.nest.map_structure(tf.identity, out)

  @tf.autograph.experimental.do_not_convert
  def flush(_):
    """Reports what is left in the tables (records that failed after the last good one)."""
    keys, _ = infos.export()
    checks = [report_keys(tf.sort(keys))]
    if stop_table is not None:  # a file that failed after the last record passed `check`
      stop = tf.reshape(stop_table.lookup(tf.constant([0], tf.int64)), [])
      checks.append(tf.debugging.Assert(tf.equal(stop, ""), [stop]))
    with tf.control_dependencies(checks):
      return tf.constant(False)  # yields nothing

  dataset = dataset.enumerate().map(stash)
  dataset = dataset.map(lambda seq, record, *extra: (seq, fn(record, *extra)),
                        num_parallel_calls=num_parallel_calls, deterministic=True)
  dataset = dataset.ignore_errors()
  value_spec = dataset.element_spec[1]
  checked = dataset.scan(tf.constant(0, tf.int64), check)
  # Reached only when the input ends; the filter runs `flush` and lets nothing through (the map
  # only gives the empty tail the right structure).
  tail = tf.data.Dataset.from_tensors(0).filter(flush).map(
      lambda _: tf.nest.map_structure(_placeholder, value_spec))
  options = tf.data.Options()
  options.experimental_optimization.map_fusion = False  # keep stash apart from fn (step 1 vs 2)
  return checked.concatenate(tail).with_options(options)
