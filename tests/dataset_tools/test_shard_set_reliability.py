"""Issue #15, leftovers: kill -9 while renaming, stale temporaries, workers outliving their parent.

Each test kills a real conversion process (SIGKILL: no handler runs) at the moment in question.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from object_detection.core.errors import DataError
from object_detection.dataset_tools import shard_manifest
from object_detection.dataset_tools import coco_conversion

# Runs a 2-shard conversion and SIGKILLs itself at the `argv[4]`-th os.replace of the run. The
# order of renames is: manifest (incomplete), shard 0, shard 1, manifest (complete).
KILL_AT_RENAME = """
import os, signal, sys
from object_detection.dataset_tools import coco_conversion
real, calls = os.replace, []
def killing(src, dst):
  calls.append(dst)
  if len(calls) == int(sys.argv[4]):
    os.kill(os.getpid(), signal.SIGKILL)
  return real(src, dst)
os.replace = killing
coco_conversion.convert_coco_split(image_dir=sys.argv[1], annotations_file=sys.argv[2],
    output_base=sys.argv[3], num_shards=2, include_masks=True, num_workers=1, progress_stream=None)
"""


def _env():
  return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


def _convert(tiny, base, **kwargs):
  return coco_conversion.convert_coco_split(
      image_dir=tiny.image_dir, annotations_file=tiny.annotations_file, output_base=base,
      num_shards=2, include_masks=True, num_workers=1, progress_stream=None, **kwargs)


@pytest.mark.slow
def test_kill_during_the_renames_leaves_a_visibly_incomplete_set(tiny_coco, tmp_path):
  out = tmp_path / "out"
  out.mkdir()
  base = str(out / "coco_train.record")
  process = subprocess.run(
      [sys.executable, "-c", KILL_AT_RENAME, tiny_coco.image_dir, tiny_coco.annotations_file, base,
       "3"], env=_env(), capture_output=True, timeout=180)
  assert process.returncode == -9, process.stderr.decode()[-2000:]
  shard0, shard1 = f"{base}-00000-of-00002", f"{base}-00001-of-00002"
  assert os.path.exists(shard0) and not os.path.exists(shard1)  # the partial set of the issue
  manifest = shard_manifest.manifest_path(base, 2)
  assert json.load(open(manifest))["complete"] is False
  # A reader of the glob names what is missing instead of training on half the data.
  with pytest.raises(DataError) as info:
    shard_manifest.check_shard_sets(glob.glob(f"{base}-?????-of-00002"), "train_input_reader")
  assert str(info.value).startswith(
      f"train_input_reader: shard set {manifest} is incomplete (1 of 2 shards missing: "
      "coco_train.record-00001-of-00002); the conversion that wrote it stopped while renaming")
  # The next run removes the killed run's temporary shard and writes a complete set.
  temps = glob.glob(f"{base}-*.tmp-*")
  assert len(temps) == 1 and temps[0].startswith(shard1 + ".tmp-")
  messages = []
  summary = _convert(tiny_coco, base, report=messages.append)
  assert "removed 1 temporary file(s) left by an interrupted run" in messages[0]
  assert not glob.glob(f"{base}*.tmp-*")
  assert shard_manifest.check_shard_sets([shard0], "x") == {shard0: 2, shard1: 1}
  assert summary.images_written == 3


@pytest.mark.slow
def test_kill_after_the_last_rename_is_accepted_because_every_shard_checks_out(tiny_coco,
                                                                               tmp_path):
  base = str(tmp_path / "coco_train.record")
  process = subprocess.run(
      [sys.executable, "-c", KILL_AT_RENAME, tiny_coco.image_dir, tiny_coco.annotations_file, base,
       "4"], env=_env(), capture_output=True, timeout=180)
  assert process.returncode == -9, process.stderr.decode()[-2000:]
  assert json.load(open(shard_manifest.manifest_path(base, 2)))["complete"] is False
  assert sum(shard_manifest.check_shard_sets([f"{base}-00000-of-00002"], "x").values()) == 3


def test_manifest_lists_records_and_bytes(tiny_coco, tmp_path):
  base = str(tmp_path / "coco_train.record")
  summary = _convert(tiny_coco, base)
  data = json.load(open(summary.manifest_path))
  assert data["complete"] is True and data["num_records"] == 3
  assert [(s["file"], s["records"]) for s in data["shards"]] == [
      ("coco_train.record-00000-of-00002", 2), ("coco_train.record-00001-of-00002", 1)]
  assert [s["bytes"] for s in data["shards"]] == [os.path.getsize(p) for p in summary.output_paths]


def test_reader_check_names_missing_and_changed_shards(tiny_coco, tmp_path):
  base = str(tmp_path / "coco_train.record")
  summary = _convert(tiny_coco, base)
  shard0, shard1 = summary.output_paths
  os.remove(shard1)
  with pytest.raises(DataError, match=r"r: shard set .*manifest.json is incomplete \(1 of 2 shards "
                     r"missing: coco_train.record-00001-of-00002\); shards were deleted or not "
                     r"copied"):
    shard_manifest.check_shard_sets([shard0], "r")
  _convert(tiny_coco, base)
  with open(shard0, "r+b") as f:
    f.truncate(100)
  with pytest.raises(DataError, match=r"coco_train.record-00000-of-00002 has 100 bytes, expected "
                     r"\d+\); the files changed or were cut short after the conversion"):
    shard_manifest.check_shard_sets([shard1], "r")
  # Files outside any manifest (the original's tool, hand-made names) are not checked.
  assert shard_manifest.check_shard_sets([str(tmp_path / "other.tfrecord")], "r") == {}


def test_unreadable_manifest_is_a_data_error(tmp_path):
  (tmp_path / "a-of-00001.manifest.json").write_text("{not json")
  with pytest.raises(DataError, match="shard manifest does not read as json"):
    shard_manifest.check_shard_sets([str(tmp_path / "a-00000-of-00001")], "r")
  (tmp_path / "a-of-00001.manifest.json").write_text('{"shards": 3}')
  with pytest.raises(DataError, match="not a shard manifest"):
    shard_manifest.check_shard_sets([str(tmp_path / "a-00000-of-00001")], "r")


def test_temporaries_of_a_running_process_are_left(tmp_path):
  from object_detection.dataset_tools import tf_record_creation_util as util
  mine = tmp_path / f"x-00000-of-00001.tmp-{os.getpid()}"
  alive = tmp_path / "x-00000-of-00001.tmp-1"  # pid 1 always runs
  dead = tmp_path / "x-00000-of-00001.tmp-999999999"
  for path in (mine, alive, dead):
    path.write_bytes(b"")
  messages = []
  removed = util.remove_stale_temporaries([util.temp_pattern(str(tmp_path / "x-"))],
                                          messages.append)
  assert removed == [str(dead)]
  assert mine.exists() and alive.exists()
  assert "belong to a process that still runs" in messages[1]


# A conversion with 2 workers whose parent stops (sleeps) at the first reported problem, so the
# test can kill it while the workers are alive.
PAUSE_AT_FIRST_PROBLEM = """
import sys, time
from object_detection.dataset_tools import coco_conversion
def pause(message):
  print("READY", flush=True)
  time.sleep(600)
if __name__ == "__main__":
  coco_conversion.convert_coco_split(image_dir=sys.argv[1], annotations_file=sys.argv[2],
      output_base=sys.argv[3], num_shards=1, num_workers=2, progress_stream=None, report=pause)
"""


def _children(pid):
  found = []
  for entry in os.listdir("/proc"):
    if entry.isdigit():
      try:
        with open(f"/proc/{entry}/stat") as f:
          fields = f.read().rsplit(")", 1)[1].split()
      except OSError:
        continue
      if int(fields[1]) == pid:
        found.append(int(entry))
  return found


def _alive(pid):
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except OSError:
    return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to find the workers")
def test_workers_die_with_a_killed_parent(tiny_coco, tmp_path):
  os.remove(os.path.join(tiny_coco.image_dir, "a.jpg"))  # the first image: a reported problem
  script = tmp_path / "pause.py"
  script.write_text(PAUSE_AT_FIRST_PROBLEM)
  parent = subprocess.Popen(
      [sys.executable, str(script), tiny_coco.image_dir, tiny_coco.annotations_file,
       str(tmp_path / "out" / "r")], env=_env(), stdout=subprocess.PIPE)
  try:
    assert parent.stdout.readline().strip() == b"READY"
    workers = _children(parent.pid)
    assert len(workers) >= 2  # the pool's workers (and multiprocessing's resource tracker)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
      time.sleep(0.2)
    assert not [w for w in workers if _alive(w)]
  finally:
    if parent.poll() is None:
      parent.kill()
