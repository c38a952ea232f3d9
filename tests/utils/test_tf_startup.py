"""utils/tf_startup.py: TensorFlow's start-up log lines are dropped, everything else kept; a fresh
process that imports TensorFlow through it prints nothing on a CPU machine, and --verbosity=1
brings the lines back; so does an entry point (exporter_main_v2), where `--v 1` or
TF_CPP_MIN_LOG_LEVEL=0 bring them back."""

import os
import subprocess
import sys

from object_detection.utils import tf_startup

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Lines TensorFlow 2.21 printed on import on a machine without a GPU (abridged).
ONEDNN = ("I0000 00:00:1796037911.455879   31917 port.cc:153] oneDNN custom operations are on. "
          "You may see slightly different numerical results")
NO_DRIVER = ("I0000 00:00:1796037911.456234   31917 cudart_stub.cc:31] Could not find cuda "
             "drivers on your machine, GPU will not be used.")
CUINIT = ("E0000 00:00:1796037921.606498   31917 cuda_platform.cc:52] failed call to cuInit: "
          "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)")
PREINIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
CPU_NOTICE = ("To enable the following instructions: AVX2 AVX512F FMA, in other operations, "
              "rebuild TensorFlow with the appropriate compiler flags.")
WARNING = "W0000 00:00:1796037921.606498   31917 some_op.cc:12] a warning"
REAL_ERROR = "E0000 00:00:1796037921.606498   31917 bfc_allocator.cc:12] Allocator ran out of memory"


def test_noise_by_level():
  for line in (ONEDNN, NO_DRIVER, CUINIT, PREINIT, CPU_NOTICE, WARNING):
    assert tf_startup.is_noise(line, 2), line
  assert not tf_startup.is_noise(REAL_ERROR, 2)
  assert not tf_startup.is_noise("Traceback (most recent call last):", 2)
  assert not tf_startup.is_noise("WARNING:tensorflow:a Python-side warning", 2)
  # level 1: info off, warnings and errors (the cuInit one too) on
  assert tf_startup.is_noise(ONEDNN, 1) and tf_startup.is_noise(PREINIT, 1)
  assert not tf_startup.is_noise(WARNING, 1) and not tf_startup.is_noise(CUINIT, 1)
  # level 0 keeps all; level 3 drops errors too
  assert not any(tf_startup.is_noise(line, 0) for line in (ONEDNN, PREINIT, CUINIT, WARNING))
  assert tf_startup.is_noise(REAL_ERROR, 3)


def test_min_log_level():
  assert tf_startup.min_log_level(0, {}) == 3
  assert tf_startup.min_log_level(0, {"TF_CPP_MIN_LOG_LEVEL": "0"}) == 0
  assert tf_startup.min_log_level(0, {"TF_CPP_MIN_LOG_LEVEL": "x"}) == 3
  assert tf_startup.min_log_level(1, {"TF_CPP_MIN_LOG_LEVEL": "3"}) == 0


def test_filtered_stderr_forwards_all_but_noise(capfd):
  with tf_startup.filtered_stderr(2):
    os.write(2, f"{ONEDNN}\nkept 1\n{CUINIT}\n{REAL_ERROR}\n".encode())
    os.write(2, b"kept 2\n")
    os.write(2, b"no newline at the end")
  assert capfd.readouterr().err == f"kept 1\n{REAL_ERROR}\nkept 2\nno newline at the end"
  os.write(2, f"{ONEDNN}\n".encode())  # the filter is gone after the block
  assert capfd.readouterr().err == f"{ONEDNN}\n"


def _import_in_fresh_process(verbosity):
  script = ("import sys\nfrom object_detection.utils import tf_startup\n"
            f"tf = tf_startup.import_tensorflow({verbosity})\n"
            "print('after import', file=sys.stderr)\nprint(int(tf.constant(2) + 1))\n")
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = REPO
  return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        timeout=300, env=env, check=True)


def test_a_fresh_import_prints_nothing_but_verbosity_brings_the_logs_back():
  quiet = _import_in_fresh_process(0)
  assert quiet.stdout == "3\n"
  assert quiet.stderr == "after import\n", quiet.stderr
  loud = _import_in_fresh_process(1)
  assert loud.stdout == "3\n"
  # TensorFlow's own lines (oneDNN / no CUDA driver on a CPU machine) are back.
  assert any(tf_startup.is_noise(line, 2) for line in loud.stderr.splitlines()), loud.stderr


def _exporter_with_a_missing_config(extra_flags=(), env_level=None):
  """exporter_main_v2 as a user runs it: imports TensorFlow (cli.start), then stops at the
  missing config with exit status 2."""
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = REPO
  if env_level is not None:
    env["TF_CPP_MIN_LOG_LEVEL"] = env_level
  proc = subprocess.run(
      [sys.executable, os.path.join("object_detection", "exporter_main_v2.py"),
       "--pipeline_config_path=/nonexistent/pipeline.config", "--trained_checkpoint_dir", "ckpt",
       "--output_directory=out", "--alsologtostderr", *extra_flags],
      cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
  assert proc.returncode == 2, proc.stderr[-3000:]
  return proc.stderr


def test_an_entry_point_is_quiet_unless_verbosity_or_the_env_var_asks():
  error = "error: /nonexistent/pipeline.config: cannot read config file"
  quiet = _exporter_with_a_missing_config()
  assert quiet.startswith(error) and len(quiet.splitlines()) == 1, quiet
  for loud in (_exporter_with_a_missing_config(["--v", "1"]),
               _exporter_with_a_missing_config(env_level="0")):
    assert error in loud
    assert any(tf_startup.is_noise(line, 2) for line in loud.splitlines()), loud
