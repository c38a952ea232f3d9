"""A dependency-free text progress bar for stderr.

On a terminal it redraws one line (`\r`); otherwise (logs, CI) it prints a line every 10 %.
"""

import sys
import time


class Progress:
  """Counts finished items out of `total` and shows rate and ETA.

  Args:
    total: int, number of items expected.
    label: str, shown before the counts.
    stream: file object (default sys.stderr); None disables output.
  """

  def __init__(self, total, label, stream=sys.stderr):
    self.total, self.label, self.stream = int(total), label, stream
    self.done = 0
    self._start = time.monotonic()
    self._interactive = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
    self._last_decile = -1

  def update(self, count=1):
    self.done += count
    if self.stream is None:
      return
    fraction = self.done / self.total if self.total else 1.0
    if self._interactive:
      self.stream.write("\r" + self._line())
      self.stream.flush()
    elif int(10 * fraction) > self._last_decile:
      self.stream.write(self._line() + "\n")
      self._last_decile = int(10 * fraction)

  def message(self, text, stream=None):
    """Writes `text` on its own line (to `stream`, default the bar's), then redraws the bar."""
    stream = stream or self.stream or sys.stderr
    if self._interactive:
      self.stream.write("\r\033[K")  # clear the bar's line first
    stream.write(text + "\n")
    if self._interactive and self.done:
      self.stream.write(self._line())
    stream.flush()

  def close(self):
    if self.stream is not None and self._interactive:
      self.stream.write("\n")
      self.stream.flush()

  @property
  def elapsed(self):
    return time.monotonic() - self._start

  def _line(self):
    width = 30
    fraction = self.done / self.total if self.total else 1.0
    bar = "#" * int(width * fraction) + "-" * (width - int(width * fraction))
    rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
    eta = (self.total - self.done) / rate if rate > 0 else float("nan")
    return (f"{self.label}: [{bar}] {self.done}/{self.total} images, {rate:.1f} img/s, "
            f"eta {eta:.0f} s")
