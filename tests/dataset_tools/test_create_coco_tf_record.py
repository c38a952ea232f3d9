"""create_coco_tf_record on a generated 3-image COCO set: content, shards, CLI, interruption."""

import glob
import hashlib
import json
import os

import numpy as np
import pytest

from object_detection.core.errors import DataError
from object_detection.core.fields import InputDataFields as F
from object_detection.dataset_tools import coco_conversion
from object_detection.dataset_tools import create_coco_tf_record
from object_detection.dataset_tools import dataset_util


def _convert(tiny, out_dir, **kwargs):
  kwargs.setdefault("include_masks", True)
  kwargs.setdefault("num_workers", 1)
  return coco_conversion.convert_coco_split(
      image_dir=tiny.image_dir, annotations_file=tiny.annotations_file,
      output_base=os.path.join(str(out_dir), "coco_train.record"),
      num_shards=kwargs.pop("num_shards", 2), progress_stream=None, **kwargs)


def _values(example, key):
  feature = example.features.feature[key]
  kind = feature.WhichOneof("kind")
  return list(getattr(feature, kind).value) if kind else []


def test_cli_converts_every_segmentation_kind(tiny_coco, tmp_path, helpers, capsys):
  out = tmp_path / "out"
  code = create_coco_tf_record.main([
      f"--train_image_dir={tiny_coco.image_dir}", f"--train_annotations_file={tiny_coco.annotations_file}",
      f"--output_dir={out}", "--include_masks", "--num_shards=2", "--num_workers=1"])
  assert code == 0
  assert sorted(os.listdir(out)) == ["coco_train.record-00000-of-00002", "coco_train.record-00001-of-00002",
                                     "coco_train.record-of-00002.manifest.json"]
  shard0 = helpers.parse_records([out / "coco_train.record-00000-of-00002"])
  shard1 = helpers.parse_records([out / "coco_train.record-00001-of-00002"])
  # Round-robin in input order: images 1 and 3 in shard 0, image 2 in shard 1.
  assert [_values(e, "image/source_id") for e in shard0] == [[b"1"], [b"3"]]
  assert [_values(e, "image/source_id") for e in shard1] == [[b"2"]]
  first = shard0[0]
  assert _values(first, "image/height") == [48] and _values(first, "image/width") == [64]
  assert _values(first, "image/format") == [b"jpeg"]
  assert _values(first, "image/filename") == [b"a.jpg"]
  encoded = _values(first, "image/encoded")[0]
  with open(os.path.join(tiny_coco.image_dir, "a.jpg"), "rb") as f:
    assert encoded == f.read()  # stored as is, not re-encoded
  assert _values(first, "image/key/sha256") == [hashlib.sha256(encoded).hexdigest().encode()]
  # bbox [x, y, w, h] = [10,10,10,10], [30,5,10,5], [40,30,20,10] on 64x48.
  np.testing.assert_allclose(_values(first, "image/object/bbox/xmin"), [10 / 64, 30 / 64, 40 / 64], rtol=1e-6)
  np.testing.assert_allclose(_values(first, "image/object/bbox/xmax"), [20 / 64, 40 / 64, 60 / 64], rtol=1e-6)
  np.testing.assert_allclose(_values(first, "image/object/bbox/ymin"), [10 / 48, 5 / 48, 30 / 48], rtol=1e-6)
  np.testing.assert_allclose(_values(first, "image/object/bbox/ymax"), [20 / 48, 10 / 48, 40 / 48], rtol=1e-6)
  assert _values(first, "image/object/class/label") == [3, 7, 3]  # the dataset's own ids
  assert _values(first, "image/object/class/text") == [b"cat", b"dog", b"cat"]
  assert _values(first, "image/object/is_crowd") == [0, 1, 0]
  np.testing.assert_allclose(_values(first, "image/object/area"), [100, 50, 200])
  masks = [helpers.decode_png(png) for png in _values(first, "image/object/mask")]
  for mask, ann_id in zip(masks, (10, 11, 12)):
    np.testing.assert_array_equal(mask, tiny_coco.expected_masks[ann_id])
  empty = shard1[0]  # zero annotations
  assert _values(empty, "image/format") == [b"png"]
  assert _values(empty, "image/object/bbox/xmin") == [] and _values(empty, "image/object/mask") == []
  err = capsys.readouterr().err
  assert "train: wrote 3 images, 4 annotations to 2 shard(s)" in err
  assert "train: skipped 0 images" in err and "train: skipped 0 annotations" in err


def test_without_include_masks_no_mask_key(tiny_coco, tmp_path, helpers):
  summary = _convert(tiny_coco, tmp_path, include_masks=False, num_shards=1)
  examples = helpers.parse_records(summary.output_paths)
  assert all("image/object/mask" not in e.features.feature for e in examples)
  assert summary.images_written == 3 and summary.annotations_written == 4


def test_parallel_output_is_identical_to_serial(tiny_coco, tmp_path):
  serial = _convert(tiny_coco, tmp_path / "serial", num_workers=1)
  parallel = _convert(tiny_coco, tmp_path / "parallel", num_workers=2)
  for a, b in zip(serial.output_paths, parallel.output_paths):
    with open(a, "rb") as fa, open(b, "rb") as fb:
      assert fa.read() == fb.read()


def test_interrupted_run_leaves_no_final_shard_and_keeps_old_outputs(tiny_coco, tmp_path, monkeypatch):
  tmp_path = tmp_path / "out"
  good = _convert(tiny_coco, tmp_path, num_shards=2)
  before = {p: open(p, "rb").read() for p in good.output_paths}
  real = dataset_util.make_tf_example
  calls = []

  def failing(**kwargs):
    calls.append(1)
    if len(calls) == 2:
      raise KeyboardInterrupt  # what Ctrl-C mid-run looks like
    return real(**kwargs)

  monkeypatch.setattr(dataset_util, "make_tf_example", failing)
  with pytest.raises(KeyboardInterrupt):
    _convert(tiny_coco, tmp_path, num_shards=2)
  assert sorted(glob.glob(str(tmp_path / "*"))) == sorted(
      good.output_paths + [good.manifest_path])  # no *.tmp-* left
  assert {p: open(p, "rb").read() for p in good.output_paths} == before
  # A fresh directory: the interrupted run creates nothing that looks like a shard.
  with pytest.raises(KeyboardInterrupt):
    calls.clear()
    _convert(tiny_coco, tmp_path / "fresh", num_shards=2)
  assert os.listdir(tmp_path / "fresh") == []


def test_stale_shards_of_another_shard_count_are_reported(tiny_coco, tmp_path):
  _convert(tiny_coco, tmp_path, num_shards=1)
  messages = []
  _convert(tiny_coco, tmp_path, num_shards=2, report=messages.append)
  assert len(messages) == 1 and "1 shard(s) from an earlier run with another --num_shards" in messages[0]


def test_default_shard_counts_are_the_originals(tiny_coco, tmp_path):
  tmp_path = tmp_path / "out"
  code = create_coco_tf_record.main([
      f"--val_image_dir={tiny_coco.image_dir}", f"--val_annotations_file={tiny_coco.annotations_file}",
      f"--output_dir={tmp_path}", "--num_workers=1", "--quiet"])
  assert code == 0
  names = sorted(os.listdir(tmp_path))
  assert len(names) == 51 and names[0] == "coco_val.record-00000-of-00050"
  assert names[-1] == "coco_val.record-of-00050.manifest.json"


def test_testdev_image_info_without_annotations(tiny_coco, tmp_path, helpers):
  del tiny_coco.data["annotations"]
  tiny_coco.save()
  code = create_coco_tf_record.main([
      f"--test_image_dir={tiny_coco.image_dir}", f"--testdev_annotations_file={tiny_coco.annotations_file}",
      f"--output_dir={tmp_path}", "--num_shards=1", "--num_workers=1", "--quiet"])
  assert code == 0
  examples = helpers.parse_records([tmp_path / "coco_testdev.record-00000-of-00001"])
  assert len(examples) == 3 and all(_values(e, "image/object/class/label") == [] for e in examples)


@pytest.mark.parametrize("argv, message", [
    ([], "nothing to convert"),
    (["--train_image_dir=x"], "--train_image_dir and --train_annotations_file go together"),
    (["--train_image_dir=x", "--train_annotations_file=y", "--num_shards=0"], "expected an integer >= 1"),
])
def test_cli_usage_errors(tmp_path, capsys, argv, message):
  with pytest.raises(SystemExit) as info:
    create_coco_tf_record.main(argv + [f"--output_dir={tmp_path}"])
  assert info.value.code == 2
  assert message in capsys.readouterr().err


def test_missing_annotations_file_is_a_data_error(tmp_path, capsys):
  code = create_coco_tf_record.main([f"--train_image_dir={tmp_path}",
                                     f"--train_annotations_file={tmp_path}/nope.json",
                                     f"--output_dir={tmp_path}/out"])
  assert code == 1
  assert "nope.json: annotations file not found" in capsys.readouterr().err


def test_not_a_coco_file_is_a_data_error(tmp_path):
  path = tmp_path / "x.json"
  path.write_text('{"images": 3}')
  with pytest.raises(DataError, match="missing 'images' list \\(got int; expected a COCO instances file\\)"):
    coco_conversion.convert_coco_split(image_dir=str(tmp_path), annotations_file=str(path),
                                       output_base=str(tmp_path / "o"), num_shards=1,
                                       progress_stream=None)


KILL_MID_RUN = """
import os, signal, sys
from object_detection.dataset_tools import coco_conversion, dataset_util
real, calls = dataset_util.make_tf_example, []
def killing(**kwargs):
  calls.append(1)
  if len(calls) == 3:
    os.kill(os.getpid(), signal.SIGKILL)  # no exception handler, no cleanup: a power cut
  return real(**kwargs)
dataset_util.make_tf_example = killing
coco_conversion.convert_coco_split(image_dir=sys.argv[1], annotations_file=sys.argv[2],
    output_base=sys.argv[3], num_shards=2, include_masks=True, num_workers=1, progress_stream=None)
"""


@pytest.mark.slow
def test_killed_run_leaves_only_temp_names(tiny_coco, tmp_path):
  import subprocess
  import sys
  out = tmp_path / "out"
  out.mkdir()
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
  process = subprocess.run(
      [sys.executable, "-c", KILL_MID_RUN, tiny_coco.image_dir, tiny_coco.annotations_file,
       str(out / "coco_train.record")], env=env, capture_output=True, timeout=120)
  assert process.returncode == -9, process.stderr.decode()[-2000:]
  names = sorted(os.listdir(out))
  assert len(names) == 2
  assert all(".tmp-" in n for n in names), names  # nothing named *-of-00002
  assert not glob.glob(str(out / "coco_train.record-?????-of-?????"))


def test_missing_image_directory_is_a_data_error(tiny_coco, tmp_path, capsys):
  code = create_coco_tf_record.main([f"--train_image_dir={tmp_path}/nodir",
                                     f"--train_annotations_file={tiny_coco.annotations_file}",
                                     f"--output_dir={tmp_path}/out"])
  assert code == 1
  assert f"{tmp_path}/nodir: image directory not found" in capsys.readouterr().err
  assert not (tmp_path / "out").exists()


class _DieWhenUnpickled:
  """Unpickling this (in a spawned worker) kills that worker, like the OOM killer would."""

  def __reduce__(self):
    return (os._exit, (3,))


def test_dead_worker_fails_the_run_cleanly(tiny_coco, tmp_path, monkeypatch):
  from concurrent.futures.process import BrokenProcessPool
  from object_detection.dataset_tools import coco_annotations
  real = coco_annotations.load_coco_instances

  def poisoned(path):
    images, by_image, categories, problems = real(path)
    return images, by_image, {**categories, "poison": _DieWhenUnpickled()}, problems

  monkeypatch.setattr(coco_annotations, "load_coco_instances", poisoned)
  with pytest.raises(BrokenProcessPool):
    _convert(tiny_coco, tmp_path / "out", num_workers=2)
  assert os.listdir(tmp_path / "out") == []  # no shard, no temp file


def test_dead_worker_cli_message(tiny_coco, tmp_path, monkeypatch, capsys):
  from concurrent.futures.process import BrokenProcessPool

  def broken(**kwargs):
    raise BrokenProcessPool("A process in the process pool was terminated abruptly")

  monkeypatch.setattr(coco_conversion, "convert_coco_split", broken)
  code = create_coco_tf_record.main([
      f"--train_image_dir={tiny_coco.image_dir}", f"--train_annotations_file={tiny_coco.annotations_file}",
      f"--output_dir={tmp_path}/out"])
  assert code == 1
  assert "error: a worker process died (A process in the process pool was terminated abruptly); out of " \
         "memory? try a smaller --num_workers" in capsys.readouterr().err


def test_model_garden_naming_and_label_map_for_the_deepmac_configs(tiny_coco, tmp_path, helpers):
  from object_detection.utils import label_map_util
  tiny_coco.data["categories"][0]["name"] = 'hot "dog"'
  tiny_coco.save()
  out = tmp_path / "out"
  code = create_coco_tf_record.main([
      f"--train_image_dir={tiny_coco.image_dir}", f"--train_annotations_file={tiny_coco.annotations_file}",
      f"--val_image_dir={tiny_coco.image_dir}", f"--val_annotations_file={tiny_coco.annotations_file}",
      f"--output_dir={out}", "--shard_naming=model_garden", "--write_label_map", "--num_workers=1",
      "--quiet"])
  assert code == 0
  names = sorted(os.listdir(out))
  assert len(names) == 256 + 32 + 2 + 1  # shards, 2 manifests, label map
  assert "train2017-of-00256.manifest.json" in names and "val2017-of-00032.manifest.json" in names
  assert "train2017-00255-of-00256.tfrecord" in names and "val2017-00031-of-00032.tfrecord" in names
  assert len(glob.glob(str(out / "train2017-?????-of-00256.tfrecord"))) == 256  # the configs' glob
  assert label_map_util.get_label_map_dict(str(out / "label_map.txt")) == {'hot "dog"': 3, "dog": 7}
  first = helpers.parse_records([out / "train2017-00000-of-00256.tfrecord"])[0]
  assert _values(first, "image/object/class/text") == [b'hot "dog"', b"dog", b'hot "dog"']
  # The decoder maps class/text through that label map back to the dataset's ids.
  from object_detection.data.decoder import TfExampleDecoder
  decoder = TfExampleDecoder(label_map_proto_file=str(out / "label_map.txt"))
  decoded = decoder.decode(first.SerializeToString())
  assert decoded[F.groundtruth_classes].numpy().tolist() == [3, 7, 3]


def test_splits_with_different_category_names_are_refused_for_the_label_map(tiny_coco, tmp_path, capsys):
  other = tmp_path / "other.json"
  tiny_coco.data["categories"][1]["name"] = "wolf"
  other.write_text(json.dumps(tiny_coco.data))
  code = create_coco_tf_record.main([
      f"--train_image_dir={tiny_coco.image_dir}", f"--train_annotations_file={tiny_coco.annotations_file}",
      f"--val_image_dir={tiny_coco.image_dir}", f"--val_annotations_file={other}",
      f"--output_dir={tmp_path / 'out'}", "--num_shards=1", "--num_workers=1", "--quiet",
      "--write_label_map"])
  assert code == 1
  assert "category 7 is named 'wolf' here but 'dog' in an earlier split" in capsys.readouterr().err
  assert not (tmp_path / "out" / "label_map.txt").exists()
