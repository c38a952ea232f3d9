"""Ctrl-C works while the main thread is stuck in C (issue #15: training on an empty TFRecord
printed nothing, spun a core and ignored Ctrl-C)."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from object_detection.training import interrupts

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ENV = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")

BLOCKED = """
import os, sys
from object_detection.training import interrupts
with interrupts.StopRequest(on_request=lambda: print("on_request", flush=True)):
  print("ready", flush=True)
  os.read(os.pipe()[0], 1)  # blocks in C forever (EINTR is retried after the no-op handler)
"""

# Training whose input pipeline never yields an element: the first batch blocks in tf.data.
NEVER_YIELDS = """
import keras, tensorflow as tf
from object_detection.training import learning_schedules as ls, testing, train_loop
proto = testing.TinyCenterModel()
def dataset_fn(ctx, seed, start):
  return testing.synthetic_dataset(proto, num_images=2).filter(lambda f, l: False)
def optimizer_fn():
  schedule = ls.ConstantSchedule(0.01)
  return keras.optimizers.SGD(schedule), schedule
print("ready", flush=True)
train_loop.train(testing.TinyCenterModel, optimizer_fn, dataset_fn, {model_dir!r},
                 train_loop.TrainSettings(num_steps=2, record_summaries=False, seed=1))
"""


def _start(code):
  proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
  assert proc.stdout.readline().strip() == "ready"
  return proc


def _still_running_after(proc, seconds):
  try:
    proc.wait(timeout=seconds)
  except subprocess.TimeoutExpired:
    return True
  return False


def test_signals_reach_a_main_thread_blocked_in_c():
  proc = _start(BLOCKED)
  proc.send_signal(signal.SIGINT)
  assert proc.stdout.readline().strip() == "on_request"
  assert _still_running_after(proc, 0.5)  # the first Ctrl-C only requests a stop
  proc.send_signal(signal.SIGINT)
  assert proc.wait(timeout=20) == 130
  err = proc.stderr.read()
  assert "SIGINT: stopping after the current step and saving a checkpoint" in err
  assert "SIGINT again: quitting now without saving" in err


def test_sigterm_counts_like_ctrl_c():
  proc = _start(BLOCKED)
  proc.send_signal(signal.SIGTERM)
  assert proc.stdout.readline().strip() == "on_request"
  proc.send_signal(signal.SIGTERM)
  assert proc.wait(timeout=20) == 128 + signal.SIGTERM


@pytest.mark.slow
def test_ctrl_c_ends_training_whose_input_never_yields(tmp_path):
  proc = _start(NEVER_YIELDS.format(model_dir=str(tmp_path / "model")))
  time.sleep(3)  # now inside start-up / the first batch, which never comes
  proc.send_signal(signal.SIGINT)
  assert _still_running_after(proc, 1)
  proc.send_signal(signal.SIGINT)
  assert proc.wait(timeout=60) == 130
  assert "SIGINT again: quitting now without saving" in proc.stderr.read()


def test_in_process_handlers_are_restored_and_flag_set():
  assert threading.current_thread() is threading.main_thread()
  before = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
  calls = []
  with interrupts.StopRequest(on_request=lambda: calls.append(1)) as stop:
    assert not stop.requested
    os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: the handler is a no-op
    deadline = time.monotonic() + 10
    while not stop.requested and time.monotonic() < deadline:
      time.sleep(0.01)
    assert stop.requested and stop.signal_number == signal.SIGINT and calls == [1]
  assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == before
  assert signal.set_wakeup_fd(-1) == -1  # no wakeup fd left behind


def test_outside_the_main_thread_it_does_nothing():
  result = {}

  def body():
    with interrupts.StopRequest() as stop:
      result["requested"] = stop.requested
  thread = threading.Thread(target=body)
  thread.start()
  thread.join()
  assert result == {"requested": False}
