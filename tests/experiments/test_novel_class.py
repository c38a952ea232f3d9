"""The novel-class experiment (experiments/novel_class): its data and a smoke run of the runner.

The smoke run (`--small`) checks only that the whole pipeline runs and that every number it
reports is finite; the experiment's numbers come from the full run (README in that folder).
"""

import json
import math
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))

from experiments.novel_class import data  # noqa: E402  pylint: disable=wrong-import-position
from experiments.novel_class import shapes  # noqa: E402  pylint: disable=wrong-import-position


def test_split_is_half_and_half_within_every_family():
  assert len(shapes.CLASSES) == 24
  assert len(shapes.SEEN_IDS) == len(shapes.UNSEEN_IDS) == 12
  for family in ("glyph", "geometric", "compound"):
    members = [c for c in shapes.CLASSES if c.family == family]
    assert sum(c.seen for c in members) == len(members) // 2


def test_every_class_renders_a_varied_silhouette_that_fills_its_box():
  rng = np.random.default_rng(0)
  for class_id in range(1, len(shapes.CLASSES) + 1):
    a = shapes.render_silhouette(class_id, rng, 24, 30) > 0
    b = shapes.render_silhouette(class_id, rng, 24, 30) > 0
    assert a.shape == (24, 30)
    for m in (a, b):   # spans its box (nearest resampling may skip a one-pixel tip)
      ys, xs = np.nonzero(m)
      assert ys.max() - ys.min() + 1 >= 22 and xs.max() - xs.min() + 1 >= 28
    assert (a != b).any(), shapes.CLASSES[class_id - 1].name   # random parameters per instance


def test_compound_objects_have_several_parts():
  rng = np.random.default_rng(1)
  for class_id, spec in enumerate(shapes.CLASSES, start=1):
    parts = shapes.render_silhouette(class_id, rng, 40, 40)
    assert (parts.max() >= 2) == (spec.family == "compound"), spec.name


def test_scenes_are_deterministic_padded_and_boxes_are_tight():
  a = data.make_dataset(3, "train", 4, image_size=64, max_objects=4)
  b = data.make_dataset(3, "train", 2, image_size=64, max_objects=4)
  np.testing.assert_array_equal(a.images[:2], b.images)     # a prefix is the same scenes
  np.testing.assert_array_equal(a.masks[:2], b.masks)
  assert not np.array_equal(a.images, data.make_dataset(3, "val", 4, 64, 4).images)
  for i in range(4):
    for k in range(4):
      mask = a.masks[i, k]
      if a.classes[i, k] == 0:
        assert not mask.any() and not a.boxes[i, k].any()
        continue
      assert 1 <= a.classes[i, k] <= 24
      ys, xs = np.nonzero(mask)
      np.testing.assert_allclose(a.boxes[i, k], [ys.min() / 64, xs.min() / 64,
                                                 (ys.max() + 1) / 64, (xs.max() + 1) / 64])
    visible = a.masks[i].astype(int).sum(0)
    assert visible.max() <= 1            # occlusion: visible masks do not overlap


def test_unknown_split_is_refused():
  with pytest.raises(ValueError, match="unknown split"):
    data.make_dataset(0, "test", 1)


def _finite_numbers(obj, path=""):
  """Yields (path, value) of every number in a nested dict/list."""
  if isinstance(obj, dict):
    for k, v in obj.items():
      yield from _finite_numbers(v, f"{path}.{k}")
  elif isinstance(obj, list):
    for i, v in enumerate(obj):
      yield from _finite_numbers(v, f"{path}[{i}]")
  elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
    yield path, obj


@pytest.mark.slow
def test_small_run_produces_finite_results(tmp_path):
  """`--small` end to end (about 20 CPU-seconds): data, detector, both crop modes, evaluation,
  baselines, table and plot; every reported metric is a finite fraction."""
  from experiments.novel_class import run  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  run.main(["--small", "--out", str(tmp_path)])
  # --small runs functions eagerly; later tests in this process must get compiled functions.
  assert not tf.config.functions_run_eagerly()
  results = json.loads((tmp_path / "results.json").read_text())
  assert [r["arm"] for r in results["runs"]] == [a.name for a in run.SMALL_ARMS]
  small = run.SMALL
  val = data.make_dataset(small["data_seed"], "val", small["num_val"], small["image_size"],
                          small["max_objects"])
  val_names = {shapes.CLASSES[c - 1].name for c in np.unique(val.classes[val.classes > 0])}
  records = [r["metrics"] for r in results["runs"]] + list(results["baselines"].values())
  for metrics in records:
    for key in ("gt_seen_ap", "gt_unseen_ap", "seen_miou", "unseen_miou", "det_seen_ap",
                "det_unseen_ap"):
      assert 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
    # Every validation class present got a mask IoU (no instance silently dropped).
    assert set(metrics["per_class_iou"]) == val_names
  for r in results["runs"]:
    assert r["mask_net_params"] > 0
    assert math.isfinite(r["train"]["loss"]) and r["train"]["loss"] > 0
    assert math.isfinite(r["train"]["mask_loss"])
  # A filled box overlaps its own object: a floor that a broken evaluator would miss.
  assert results["baselines"]["filled_box"]["seen_miou"] > 0.2
  assert results["baselines"]["filled_box"]["unseen_miou"] > 0.2
  numbers = list(_finite_numbers(results))
  assert len(numbers) > 50
  bad = [(p, v) for p, v in numbers if not math.isfinite(v)]
  assert not bad
  table = (tmp_path / "results.md").read_text().splitlines()
  for arm in run.SMALL_ARMS:
    assert sum(line.startswith(f"| {arm.name} |") for line in table) == 1
  assert (tmp_path / "novel_class.png").stat().st_size > 1000
