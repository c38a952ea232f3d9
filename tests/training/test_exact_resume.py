"""Kill -9 and Ctrl-C at random points, restart: the final weights equal an uninterrupted run's
bit for bit (issue #15: before, a resumed run replayed the data and ended 0.014 away).

Each test trains in subprocesses. A seeded RNG picks where to interrupt: a random progress line
or checkpoint, plus a random delay (so the kill can land inside a step, inside a checkpoint save
or during start-up). `DEEPMAC_RESUME_SEEDS=0,1,2,...` runs more chains than CI's.
"""

import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from object_detection import demo

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ENV = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
SEEDS = [int(s) for s in os.environ.get("DEEPMAC_RESUME_SEEDS", "0,1").split(",") if s.strip()]
TIMEOUT = 600


class Run:
  """A training subprocess whose stdout lines are collected by a thread."""

  def __init__(self, args):
    self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=ENV, cwd=REPO)
    self.lines = queue.Queue()
    self.stdout = []
    self.ended = False  # stdout closed: no line will come
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()

  def _read(self):
    for line in self.proc.stdout:
      self.stdout.append(line)
      self.lines.put(line)
    self.lines.put(None)

  def wait_line(self, pattern, timeout=TIMEOUT):
    """Blocks until a stdout line matches `pattern` (returns the match) or the process ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not self.ended:
      try:
        line = self.lines.get(timeout=1)
      except queue.Empty:
        continue
      if line is None:
        self.ended = True
        return None
      match = re.search(pattern, line)
      if match:
        return match
    if self.ended:
      return None
    raise AssertionError(f"no line matching {pattern!r} within {timeout} s")

  def wait_file(self, path, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and self.proc.poll() is None:
      if os.path.exists(path):
        return True
      time.sleep(0.01)
    return os.path.exists(path)

  def finish(self, timeout=TIMEOUT):
    rc = self.proc.wait(timeout=timeout)
    self._reader.join(timeout=10)
    stderr = self.proc.stderr.read()
    return rc, "".join(self.stdout), stderr


def _variables(path):
  """{name: array} of a training checkpoint (input position included), without the save
  counter."""
  reader = tf.train.load_checkpoint(path)
  return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
          if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter"))}


def _assert_bit_identical(path_a, path_b):
  a, b = _variables(path_a), _variables(path_b)
  assert sorted(a) == sorted(b)
  differ = [n for n in a if not np.array_equal(a[n], b[n])]
  assert not differ, f"{len(differ)} of {len(a)} tensors differ, e.g. {differ[:3]}"
  assert any(n.startswith("model/") for n in a) and any(n.startswith("optimizer/") for n in a)


# --------------------------------------------------------------- tiny model, several seeds
NUM_STEPS = 24


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  """Two TFRecord shards and the uninterrupted reference run of resume_worker.py."""
  root = tmp_path_factory.mktemp("tiny")
  for shard in range(2):
    demo.write_dataset(str(root / f"train-{shard}.tfrecord"), 5, seed=shard)
  glob = str(root / "train-*.tfrecord")
  ref = root / "reference"
  run = Run(_worker_args(ref, glob))
  rc, out, err = run.finish()
  assert rc == 0, err[-3000:]
  assert f"step {NUM_STEPS}/{NUM_STEPS}" in out
  return {"glob": glob, "reference": str(ref / f"ckpt-{NUM_STEPS}")}


def _worker_args(model_dir, glob):
  return [sys.executable, os.path.join(HERE, "resume_worker.py"), str(model_dir), glob,
          str(NUM_STEPS), "7"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_kill9_then_ctrl_c_at_random_points_resume_bit_identical(tiny, tmp_path, seed):
  rng = random.Random(seed)
  model_dir = tmp_path / "run"
  # 1. SIGKILL after a random progress line, plus a random delay (inside a step or a save).
  run = Run(_worker_args(model_dir, tiny["glob"]))
  seen = [time.monotonic()]
  for _ in range(rng.choice([2, 3, 4])):  # the 2nd to 4th progress line: step 5, 8 or 11 of 24
    assert run.wait_line(r"step \d+/") is not None
    seen.append(time.monotonic())
  # Within the time of the last lines' steps (a step may take 10 ms: a fixed delay could
  # outlast the run).
  time.sleep(rng.uniform(0.0, 1.0) * (seen[-1] - seen[-2]))
  run.proc.send_signal(signal.SIGKILL)
  rc, _, _ = run.finish()
  assert rc == -signal.SIGKILL
  # 2. Restart; Ctrl-C (SIGINT) a little later: it saves the current step and exits with 130.
  run = Run(_worker_args(model_dir, tiny["glob"]))
  start = run.wait_line(r"(resumed from \S+ at step (\d+)|training from step 0)")
  start_step = int(start.group(2) or 0)
  # Signal only with steps to spare: a Ctrl-C after train() returned is plain Python's.
  line = run.wait_line(r"step (\d+)/")
  if line is not None and int(line.group(1)) <= NUM_STEPS - 8:
    time.sleep(rng.uniform(0.0, 0.3))
    run.proc.send_signal(signal.SIGINT)
  rc, out, err = run.finish()
  assert "Traceback" not in err, err[-3000:]
  if rc == 0:  # the run had finished before the signal landed: nothing to resume
    assert f"step {NUM_STEPS}/{NUM_STEPS}" in out
  else:
    assert rc == 130, err[-3000:]
    stopped = int(re.search(r"stopped by SIGINT at step (\d+)", err).group(1))
    assert start_step <= stopped <= NUM_STEPS
    assert os.path.exists(model_dir / f"ckpt-{stopped}.index")
    assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"ckpt-{stopped}")
    # 3. Restart to the end.
    run = Run(_worker_args(model_dir, tiny["glob"]))
    rc, out, err = run.finish()
    assert rc == 0, err[-3000:]
    assert f"resumed from {model_dir}/ckpt-{stopped} at step {stopped}" in out
  assert not [d for d in os.listdir(model_dir) if d.endswith("_temp")]
  _assert_bit_identical(tiny["reference"], str(model_dir / f"ckpt-{NUM_STEPS}"))


# ------------------------------------------- the tiny DeepMAC config through model_main_tf2
SMALL = ["model.center_net.image_resizer.fixed_shape_resizer.height=64",
         "model.center_net.image_resizer.fixed_shape_resizer.width=64",
         "model.center_net.deepmac_mask_estimation.mask_size=8",
         "model.center_net.deepmac_mask_estimation.num_init_channels=8",
         "model.center_net.deepmac_mask_estimation.max_roi_jitter_ratio=0.2",
         "train_input_reader.shuffle_buffer_size=4",
         "train_config.batch_size=2"]
MAIN_STEPS = 12


def _main_args(config, model_dir):
  return [sys.executable, "-m", "object_detection.model_main_tf2",
          f"--pipeline_config_path={config}", f"--model_dir={model_dir}", "--seed=11",
          f"--num_train_steps={MAIN_STEPS}", "--checkpoint_every_n=2",
          "--record_summaries=false"] + SMALL


@pytest.mark.slow
def test_model_main_kill9_and_ctrl_c_resume_bit_identical(tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  (data / "label_map.pbtxt").write_text(demo.LABEL_MAP)
  demo.write_dataset(str(data / "train.tfrecord"), 6, seed=0)
  config = demo.make_pipeline_config(str(data), str(tmp_path / "pipeline.config"))
  rng = random.Random(SEEDS[0])

  reference = tmp_path / "reference"
  rc, _, err = Run(_main_args(config, reference)).finish()
  assert rc == 0, err[-3000:]

  model_dir = tmp_path / "run"
  # SIGKILL once a random checkpoint appears, after a random delay (maybe mid-save).
  run = Run(_main_args(config, model_dir))
  assert run.wait_file(model_dir / f"ckpt-{rng.choice([2, 4])}.index")
  time.sleep(rng.uniform(0.0, 0.4))
  run.proc.send_signal(signal.SIGKILL)
  assert run.finish()[0] == -signal.SIGKILL
  # Ctrl-C after the next checkpoint: exit status 130, one line, a checkpoint of that step.
  run = Run(_main_args(config, model_dir))
  resumed = run.wait_line(r"resumed from \S+ at step (\d+)")
  assert resumed is not None
  next_ckpt = int(resumed.group(1)) // 2 * 2 + 2
  if next_ckpt <= MAIN_STEPS - 6:  # steps to spare (see the tiny test)
    assert run.wait_file(model_dir / f"ckpt-{next_ckpt}.index")
    time.sleep(rng.uniform(0.0, 0.3))
    run.proc.send_signal(signal.SIGINT)
  rc, out, err = run.finish()
  assert "Traceback" not in err, err[-3000:]
  if rc != 0:
    assert rc == 130, err[-3000:]
    stopped = int(re.search(r"stopped by SIGINT at step (\d+); checkpoint \S+ holds this step",
                            err).group(1))
    assert os.path.exists(model_dir / f"ckpt-{stopped}.index")
    rc, out, err = Run(_main_args(config, model_dir)).finish()
    assert rc == 0, err[-3000:]
    assert f"at step {stopped} (seed 11)" in out
  _assert_bit_identical(str(reference / f"ckpt-{MAIN_STEPS}"),
                        str(model_dir / f"ckpt-{MAIN_STEPS}"))
