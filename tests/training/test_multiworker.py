"""Two MultiWorkerMirroredStrategy workers on localhost train the same model in step."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("localhost", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


@pytest.mark.slow
def test_two_workers_end_with_identical_weights_and_step(tmp_path):
  ports = _free_ports(2)
  cluster = {"worker": [f"localhost:{p}" for p in ports]}
  procs = []
  for i in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster,
                                                 "task": {"type": "worker", "index": i}}),
               TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="")
    procs.append(subprocess.Popen(
        [sys.executable, os.path.join(HERE, "multiworker_worker.py"), str(tmp_path / "model"),
         str(tmp_path / f"w{i}.npz"), "4"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True))
  logs = []
  for p in procs:
    try:
      logs.append(p.communicate(timeout=240)[0])
    except subprocess.TimeoutExpired:
      for q in procs:
        q.kill()
      raise
  assert all(p.returncode == 0 for p in procs), "\n\n".join(l[-3000:] for l in logs)
  a, b = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
  assert int(a["step"]) == int(b["step"]) == 4
  assert int(a["replicas"]) == 2
  weights = [k for k in a.files if k.startswith("w")]
  assert weights
  for k in weights:
    np.testing.assert_array_equal(a[k], b[k])
  # the chief wrote the checkpoints; the other worker's temporary folder is gone
  assert os.path.exists(tmp_path / "model" / "ckpt-4.index")
  assert not [d for d in os.listdir(tmp_path / "model") if d.startswith("tmp_worker")]
