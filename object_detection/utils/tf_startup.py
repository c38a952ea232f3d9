"""Imports TensorFlow for a command-line run without its log noise.

`import tensorflow` on a machine without a GPU prints, before any flag can stop it, a page of
C++ log lines: `WARNING: All log messages before absl::InitializeLog() ...`, `I0000 ... oneDNN
custom operations are on`, `Could not find cuda drivers`, the CPU-instructions notice and
`E0000 ... failed call to cuInit`; a run then adds misleveled "errors" such as `E0000 ...
oneDNN supports DT_INT32 only on platforms with AVX-512`. `import_tensorflow`:

- sets TF_CPP_MIN_LOG_LEVEL=3 (C++ info, warnings and errors off; fatal errors stay, and
  failures reach the user as Python exceptions) unless the user set the variable, or asked for
  `--verbosity` >= 1, which sets 0;
- filters the process's stderr (file descriptor 2) while TensorFlow loads and finds its devices,
  because the lines logged before absl's log initialisation ignore TF_CPP_MIN_LOG_LEVEL: lines
  in TensorFlow's log format (`I0000 12:00:00.000 123 file.cc:42] ...`) below the level are
  dropped, and at level 2 also the start-up errors that only say "no GPU here" (cuInit, cuDNN/
  cuFFT/cuBLAS factory registration); every other line (Python warnings, tracebacks) passes.

Call it after parsing flags and before anything imports TensorFlow. A library user who imports
TensorFlow first keeps TensorFlow's own behaviour: this module changes nothing then.
"""

import contextlib
import os
import re
import sys
import threading

try:
  import fcntl
except ImportError:  # not POSIX
  fcntl = None

ENV = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LEVEL = 3  # C++ INFO, WARNING and ERROR off; FATAL stays

_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]]+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# Lines that belong to an INFO message or to absl's pre-initialisation notice.
_INFO_TEXT = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    re.compile(r"^To enable the following instructions: .* rebuild TensorFlow with"),
)
# Start-up "errors" that say only that this machine has no usable GPU.
_NO_GPU_ERRORS = re.compile(
    r"failed call to cuInit|Unable to register cu(DNN|FFT|BLAS) factory|"
    r"Could not find cuda drivers|Cannot dlopen some GPU libraries")


def min_log_level(verbosity=0, environ=None):
  """The level in effect: 0 with verbosity >= 1, else the user's TF_CPP_MIN_LOG_LEVEL, else 3."""
  environ = os.environ if environ is None else environ
  if verbosity >= 1:
    return 0
  try:
    return int(environ.get(ENV, DEFAULT_LEVEL))
  except ValueError:
    return DEFAULT_LEVEL


def is_noise(line, level):
  """True when `line` (one stderr line, no newline) is start-up log noise at `level`."""
  match = _LOG_LINE.match(line)
  if match:
    severity = _SEVERITY[match.group(1)]
    if severity < level:
      return True
    return severity == 2 and level >= 2 and bool(_NO_GPU_ERRORS.search(line))
  return level >= 1 and any(p.match(line) for p in _INFO_TEXT)


@contextlib.contextmanager
def filtered_stderr(level):
  """Within the block, lines written to file descriptor 2 pass through `is_noise(line, level)`.

  A pipe replaces fd 2 and a thread forwards the lines that are not noise to the real stderr as
  they arrive (so a crash inside the block still shows what was printed before it).
  """
  if level <= 0:
    yield
    return
  sys.stderr.flush()
  saved = os.dup(2)
  read_end, write_end = os.pipe()
  _grow_pipe(write_end)
  os.dup2(write_end, 2)
  os.close(write_end)

  def forward():
    pending = b""
    while True:
      chunk = os.read(read_end, 65536)
      if not chunk:
        break
      pending += chunk
      *lines, pending = pending.split(b"\n")
      for raw in lines:
        if not is_noise(raw.decode("utf-8", "replace"), level):
          os.write(saved, raw + b"\n")
    if pending and not is_noise(pending.decode("utf-8", "replace"), level):
      os.write(saved, pending)

  thread = threading.Thread(target=forward, name="tf-stderr-filter", daemon=True)
  thread.start()
  try:
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)  # closes the pipe's last write end: the thread sees end-of-file
    thread.join()
    os.close(read_end)
    os.close(saved)


def _grow_pipe(fd):
  """A 1 MiB pipe, so a chatty import never blocks on a full pipe while holding the GIL."""
  setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
  if setsize is not None:
    try:
      fcntl.fcntl(fd, setsize, 1 << 20)
    except OSError:  # above /proc/sys/fs/pipe-max-size: keep the default 64 KiB
      pass


def import_tensorflow(verbosity=0):
  """Sets TF_CPP_MIN_LOG_LEVEL (see the module doc), imports TensorFlow with its start-up noise
  filtered, lists the devices (where the CUDA messages come from) and returns the module."""
  if "tensorflow" in sys.modules:
    return sys.modules["tensorflow"]
  level = min_log_level(verbosity)
  if verbosity >= 1:
    os.environ[ENV] = "0"
  else:
    os.environ.setdefault(ENV, str(DEFAULT_LEVEL))
  with filtered_stderr(level):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.config.list_physical_devices()
  return tf
