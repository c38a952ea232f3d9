"""Ctrl-C / SIGTERM during training: stop after the current step and save; a second one quits.

Python runs signal handlers only between bytecodes of the main thread. While the main thread
waits inside TensorFlow (a long tf.function call, or a tf.data pipeline that never yields an
element) a Ctrl-C is never seen: the process ignores it. `StopRequest` makes signals work there:

  - the Python-level handlers of SIGINT and SIGTERM do nothing (no KeyboardInterrupt lands in
    the middle of a checkpoint write), and `signal.set_wakeup_fd` makes the interpreter's C-level
    handler write each signal's number to a pipe;
  - a watchdog thread reads that pipe. The first signal sets `requested` (and the train loop's
    stop variable, which the tf.function checks between steps), and prints what happens next; the
    second one prints that it quits and exits at once with status 128 + signal number (what is
    on disk stays consistent: checkpoints are written to a temporary folder and renamed).

    with interrupts.StopRequest(on_request=lambda: stop_var.assign(True)) as stop:
      while ... and not stop.requested:
        run_steps(...)
"""

import os
import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
  """Training stopped on Ctrl-C / SIGTERM after saving a checkpoint of the current step.

  Attributes: step (int), checkpoint (path prefix or None), signal_number (int).
  """

  def __init__(self, message, step, checkpoint, signal_number):
    super().__init__(message)
    self.step = step
    self.checkpoint = checkpoint
    self.signal_number = signal_number

  @property
  def exit_status(self):
    return 128 + int(self.signal_number)


def _write(text):
  try:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
  except (OSError, ValueError):
    pass


class StopRequest:
  """Context manager turning SIGINT / SIGTERM into a stop request (see the module docstring).

  Outside the main thread (signals cannot be handled there) it does nothing and `requested`
  stays False.

  Args:
    on_request: optional callable run by the watchdog thread at the first signal (e.g. set a
      tf.Variable that the training tf.function checks between steps).
    message: text printed at the first signal.
  """

  def __init__(self, on_request=None, message=None):
    self._on_request = on_request
    self._message = message or ("stopping after the current step and saving a checkpoint "
                                "(press Ctrl-C again to quit at once without saving)")
    self._event = threading.Event()
    self.signal_number = None
    self._active = False

  @property
  def requested(self):
    return self._event.is_set()

  def __enter__(self):
    if threading.current_thread() is not threading.main_thread():
      return self
    self._read_fd, self._write_fd = os.pipe()
    os.set_blocking(self._write_fd, False)
    self._old_handlers = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
      signal.signal(s, lambda signum, frame: None)
    self._old_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
    self._thread = threading.Thread(target=self._watch, name="deepmac-stop-watchdog", daemon=True)
    self._active = True
    self._thread.start()
    return self

  def _watch(self):
    while True:
      try:
        data = os.read(self._read_fd, 1)
      except OSError:
        return
      if not data or data == b"\0":  # closed by __exit__
        return
      number = data[0]
      if not self._event.is_set():
        self.signal_number = number
        _write(f"\n{signal.Signals(number).name}: {self._message}")
        self._event.set()
        if self._on_request is not None:
          try:
            self._on_request()
          except Exception as e:  # pylint: disable=broad-except
            _write(f"(could not signal the running step: {e})")
      else:
        _write(f"\n{signal.Signals(number).name} again: quitting now without saving "
               "(the checkpoints already written are kept)")
        os._exit(128 + number)  # pylint: disable=protected-access

  def __exit__(self, *exc):
    if not self._active:
      return False
    self._active = False
    signal.set_wakeup_fd(self._old_wakeup)
    for s, handler in self._old_handlers.items():
      signal.signal(s, handler)
    os.write(self._write_fd, b"\0")  # wakes the watchdog, which returns
    self._thread.join(timeout=5)
    os.close(self._write_fd)
    os.close(self._read_fd)
    return False
