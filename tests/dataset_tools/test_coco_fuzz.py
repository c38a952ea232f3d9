"""Seeded fuzzer over COCO json entries: any value in any field is a named skip, never a crash.

Each round sets one to three fields of the generated 3-image COCO set (image records, annotations,
categories, RLE size and counts) to values of the wrong type, sign or size, then runs the
converter's load + per-image conversion (what each worker runs; no TFRecord writing, so a round
takes milliseconds). The oracle: nothing raises, every problem has a specific reason (never the
catch-all `conversion_error`), and images whose entries were not touched are all converted.

Longer run: DEEPMAC_FUZZ_SECONDS=300 [DEEPMAC_FUZZ_SEED=3] python -m pytest -q
tests/dataset_tools/test_coco_fuzz.py
"""

import copy
import json
import os
import random
import time

from object_detection.dataset_tools import coco_annotations
from object_detection.dataset_tools import coco_image_worker

ROUNDS = 150  # in CI
VALUES = [None, True, False, 0, -1, 1, 3, 7, 48, 2**70, -2**40, 1.5, -0.0, float("nan"),
          float("inf"), "", "1", "abc", "../x.jpg", [], [1], [3], ["1", "2"], [[1, 2]], [1, 2, 3, 4],
          [10, 10, 10, 10], [-1, 0, 5, 5], [0, 0, 1e12, 1e12], {"a": 1}, {"size": [48, 64]},
          {"size": [48, 64], "counts": "0"}, {"size": ["48", "64"], "counts": [3072]},
          [[0, 0, 1e9, 0, 1e9, 1e9]], [[10, 10, 20, 10, 20, 20]], "x" * 500]
RLE_COUNTS = [[-5, 3077], [3072], [3071], [0, 3072], [1.5], "0", "<P", "\x00", "0@", "ooooo",
              [2**33, 1], "PP0"]


def _mutate(data, rng):
  kind = rng.choice(["images", "annotations", "categories", "rle"])
  if kind == "rle":
    rles = [a for a in data["annotations"]
            if isinstance(a, dict) and isinstance(a.get("segmentation"), dict)]
    if rles:
      segmentation = rng.choice(rles)["segmentation"]
      if rng.random() < 0.7:
        segmentation["counts"] = rng.choice(RLE_COUNTS)
      else:
        segmentation["size"] = rng.choice(VALUES)
    return
  entries = data[kind]
  if not entries:
    return
  index = rng.randrange(len(entries))
  entry = entries[index]
  if rng.random() < 0.05 or not isinstance(entry, dict):
    entries[index] = rng.choice(VALUES)
    return
  key = rng.choice(sorted(entry) + ["id"])
  if rng.random() < 0.15:
    entry.pop(key, None)
  else:
    entry[key] = copy.deepcopy(rng.choice(VALUES))


def _touched_image_ids(original, mutated):
  """Image ids whose record, or one of whose annotations or categories, differs."""
  touched = set()
  for a, b in zip(original["images"], mutated["images"]):
    if a != b:
      touched.add(a["id"])
  categories_changed = original["categories"] != mutated["categories"]
  for a, b in zip(original["annotations"], mutated["annotations"]):
    if a != b or categories_changed:
      touched.add(a["image_id"])
  return touched


def _run_round(tiny, original, rng):
  data = copy.deepcopy(original)
  for _ in range(rng.randrange(1, 4)):
    _mutate(data, rng)
  with open(tiny.annotations_file, "w") as f:
    json.dump(data, f)
  images, by_image, categories, problems = coco_annotations.load_coco_instances(
      tiny.annotations_file)
  config = coco_image_worker.WorkerConfig(categories=categories, image_dir=tiny.image_dir,
                                          include_masks=True, source="fuzz.json")
  converted = set()
  for image in images:
    result = coco_image_worker.convert_image(config, image, by_image.get(image["id"], []))
    problems += result.problems
    if result.features is not None:
      converted.add(image["id"])
  crashes = [p.message for p in problems if p.reason == "conversion_error"]
  assert not crashes, crashes
  untouched = {1, 2, 3} - _touched_image_ids(original, data)
  assert untouched <= converted, (untouched, converted, [p.message for p in problems])
  return problems


def test_any_value_in_any_field_is_a_named_skip(tiny_coco):
  seed = int(os.environ.get("DEEPMAC_FUZZ_SEED", "0"))
  deadline = time.monotonic() + float(os.environ.get("DEEPMAC_FUZZ_SECONDS", "0"))
  rng = random.Random(seed)
  original = copy.deepcopy(tiny_coco.data)
  reasons = set()
  rounds = 0
  while rounds < ROUNDS or time.monotonic() < deadline:
    reasons.update(p.reason for p in _run_round(tiny_coco, original, rng))
    rounds += 1
  # The fuzzer reaches the validators of every list (a check that it is not idling).
  assert {"bad_image_record", "bad_annotation_record", "bad_segmentation", "bad_bbox",
          "bad_category"} <= reasons, reasons
