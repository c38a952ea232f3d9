"""The plain-text progress bar: one line per 10 % off a terminal, redrawn line on a terminal."""

import io

from object_detection.dataset_tools import progress


def test_non_terminal_prints_a_line_every_ten_percent():
  stream = io.StringIO()
  bar = progress.Progress(20, "train", stream)
  for _ in range(20):
    bar.update()
  bar.close()
  lines = stream.getvalue().splitlines()
  assert len(lines) == 11  # 0 %, then every 2 images (10 %), the last at 20/20
  assert lines[0].startswith("train: [#-----------------------------] 1/20 images")
  assert lines[-1].startswith("train: [##############################] 20/20 images")


class _Tty(io.StringIO):
  def isatty(self):
    return True


def test_terminal_redraws_one_line():
  stream = _Tty()
  bar = progress.Progress(3, "val", stream)
  for _ in range(3):
    bar.update()
  bar.close()
  text = stream.getvalue()
  assert text.count("\r") == 3 and text.endswith("3/3 images, " + text.split("3/3 images, ")[-1])
  assert text.endswith("\n") and "\n" not in text[:-1]


def test_silent_without_stream_and_zero_total():
  bar = progress.Progress(0, "empty", None)
  bar.update()
  bar.close()
  assert bar.done == 1


def test_message_clears_and_redraws_the_bar_on_a_terminal():
  stream = _Tty()
  bar = progress.Progress(2, "val", stream)
  bar.update()
  bar.message("warning: image 3 skipped")
  text = stream.getvalue()
  assert "\r\033[Kwarning: image 3 skipped\n" in text
  assert text.endswith("1/2 images, " + text.split("1/2 images, ")[-1]) and text.count("1/2") == 2
  plain = io.StringIO()
  progress.Progress(2, "val", plain).message("warning: x")
  assert plain.getvalue() == "warning: x\n"
