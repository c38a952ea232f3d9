"""Seeded fuzzer over tf.train.Example records through the training input pipeline.

Valid records (PNG/JPEG images, PNG masks, class text and labels, zero boxes) are mutated at the
protobuf level (keys deleted, retyped, values of wrong count or extreme value, images and masks
replaced by truncated, corrupt, other-size or other-format files) and at the byte level (flips,
cuts, garbage), written to one TFRecord file and read by `inputs.train_input` with the DeepMAC
augmentations, as training reads them. The oracle: the pipeline ends cleanly (no exception);
every record either comes out with the expected static shapes and finite values or is skipped
with a reason that names what is wrong (never "transient" or "and so did finding out why").

CI runs one short round (ROUNDS x RECORDS, fixed seed). A longer run:
  DEEPMAC_FUZZ_SECONDS=600 [DEEPMAC_FUZZ_SEED=7] python -m pytest -q tests/data/test_record_fuzz.py
Records that break the oracle are saved under tests/testdata/record_fuzz_corpus/ (one raw
record per file) and the test fails naming them; the corpus is replayed by
`test_regression_corpus` on every run.
"""

import hashlib
import io
import os
import pathlib
import random
import time

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from PIL import Image

from object_detection import inputs
from object_detection.builders import image_resizer_builder
from object_detection.core.fields import InputDataFields as F
from object_detection.data import record_guard
from object_detection.data import resizers
from object_detection.data import synthetic
from object_detection.protos import input_reader_pb2, model_pb2, train_pb2

CORPUS = pathlib.Path(__file__).resolve().parents[1] / "testdata" / "record_fuzz_corpus"
RECORDS = 24  # per round
ROUNDS = 1  # in CI; DEEPMAC_FUZZ_SECONDS keeps going
SIZE, MAX_BOXES, NUM_CLASSES = 32, 3, 3
KEYS = ["image/encoded", "image/format", "image/height", "image/width", "image/source_id",
        "image/filename", "image/key/sha256", "image/object/bbox/ymin", "image/object/bbox/xmin",
        "image/object/bbox/ymax", "image/object/bbox/xmax", "image/object/class/label",
        "image/object/class/text", "image/object/area", "image/object/is_crowd",
        "image/object/difficult", "image/object/group_of", "image/object/weight",
        "image/object/mask", "image/object/mask/weight"]
AUGMENTATIONS = """
  data_augmentation_options { random_horizontal_flip {} }
  data_augmentation_options { random_adjust_hue {} }
  data_augmentation_options { random_adjust_contrast {} }
  data_augmentation_options { random_adjust_saturation {} }
  data_augmentation_options { random_adjust_brightness {} }
  data_augmentation_options { random_square_crop_by_scale { scale_min: 0.6 scale_max: 1.3 } }
  data_augmentation_options { random_jitter_boxes {} }
"""
BAD_REASONS = ("transient", "finding out why", "<unknown file>")


def _png(array, **kwargs):
  buffer = io.BytesIO()
  Image.fromarray(array, **kwargs).save(buffer, format="PNG")
  return buffer.getvalue()


def _image_file(rng, kind):
  h, w = rng.choice([1, 2, 7, SIZE]), rng.choice([1, 3, SIZE, 2 * SIZE])
  pixels = np.asarray(np.random.default_rng(rng.randrange(1 << 30)).integers(
      0, 255, (h, w, 3)), np.uint8)
  buffer = io.BytesIO()
  if kind == "gray":
    Image.fromarray(pixels[:, :, 0]).save(buffer, format="PNG")
  elif kind == "rgba":
    Image.fromarray(np.dstack([pixels, pixels[:, :, :1]])).save(buffer, format="PNG")
  elif kind == "16bit":
    Image.fromarray(pixels[:, :, 0].astype(np.uint16) * 200).save(buffer, format="PNG")
  else:
    Image.fromarray(pixels).save(buffer, format=kind)
  return buffer.getvalue()


def seed_examples():
  """Valid records covering the decoder's paths."""
  rng = np.random.default_rng(0)
  image = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
  boxes = [[0.1, 0.1, 0.6, 0.5], [0.4, 0.3, 0.9, 0.95]]
  masks = synthetic.box_masks(boxes, SIZE, SIZE)
  full = synthetic.make_example(image, boxes, class_labels=[1, 2], class_texts=["a", "b"],
                                masks=masks, source_id="1", is_crowd=[0, 1], area=[10.0, 20.0])
  jpeg = synthetic.make_example(image, boxes[:1], class_labels=[3], masks=masks[:1],
                                image_format="jpeg", source_id="2")
  empty = synthetic.make_example(image, [], class_labels=[], masks=np.zeros([0, SIZE, SIZE]),
                                 source_id="3")
  return [full, jpeg, empty]


def _random_values(rng, kind):
  n = rng.choice([0, 1, 2, 3, 7])
  if kind == "bytes":
    pool = [b"", b"a", b"\xff" * 5, "b".encode(), _png(np.ones([SIZE, SIZE], np.uint8)),
            _png(np.ones([3, 4], np.uint8)), bytes(rng.randrange(256) for _ in range(20))]
    return [rng.choice(pool) for _ in range(n)]
  if kind == "int64":
    pool = [0, 1, 2, 3, -1, 2**62, -2**63, 255]
    return [rng.choice(pool) for _ in range(n)]
  pool = [0.0, 0.5, 1.0, -0.5, 2.0, float("nan"), float("inf"), -float("inf"), 1e30, -1e-30]
  return [rng.choice(pool) for _ in range(n)]


def _set_feature(feature, kind, values):
  feature.Clear()
  getattr(feature, f"{kind}_list").value.extend(values)


def mutate_example(example, rng):
  """One protobuf-level mutation of `example` (in place)."""
  features = example.features.feature
  key = rng.choice(KEYS + ["image/object/extra"])
  op = rng.choice(["delete", "retype", "resize", "values", "image", "mask", "boxes"])
  if op == "delete":
    features.pop(key, None)
  elif op == "retype":
    kind = rng.choice(["bytes", "int64", "float"])
    _set_feature(features[key], kind, _random_values(rng, kind))
  elif op == "resize" and key in features:
    kind = features[key].WhichOneof("kind")
    if kind:
      values = list(getattr(features[key], kind).value)
      values = values[:-1] if values and rng.random() < 0.5 else values + values[:1] * 2
      _set_feature(features[key], kind.split("_")[0], values)
  elif op == "values" and key in features:
    kind = (features[key].WhichOneof("kind") or "float_list").split("_")[0]
    _set_feature(features[key], kind, _random_values(rng, kind))
  elif op == "image":
    values = features["image/encoded"].bytes_list.value if "image/encoded" in features else []
    original = values[0] if values else b""
    choice = rng.choice(["truncate", "flip", "garbage", "PNG", "JPEG", "GIF", "BMP", "gray",
                         "rgba", "16bit", "empty"])
    if choice == "truncate":
      data = original[:rng.randrange(len(original) + 1)]
    elif choice == "flip" and original:
      data = bytearray(original)
      for _ in range(rng.randrange(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
      data = bytes(data)
    elif choice == "garbage":
      data = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    elif choice == "empty":
      data = b""
    else:
      data = _image_file(rng, choice if choice != "flip" else "PNG")
    _set_feature(features["image/encoded"], "bytes", [data])
  elif op == "mask":
    masks = list(features["image/object/mask"].bytes_list.value) if \
        "image/object/mask" in features else []
    choice = rng.choice(["other_size", "corrupt", "rgb", "16bit", "drop", "add"])
    if choice == "drop" and masks:
      masks.pop(rng.randrange(len(masks)))
    elif choice == "add":
      masks.append(_png(np.ones([SIZE, SIZE], np.uint8)))
    elif masks:
      i = rng.randrange(len(masks))
      masks[i] = {"other_size": _png(np.ones([SIZE // 2, SIZE + 1], np.uint8)),
                  "corrupt": masks[i][:len(masks[i]) // 2] + b"\x00garbage",
                  "rgb": _png(np.ones([SIZE, SIZE, 3], np.uint8)),
                  "16bit": _png(np.ones([SIZE, SIZE], np.uint16) * 300)}[choice]
    _set_feature(features["image/object/mask"], "bytes", masks)
  elif op == "boxes":
    coord = rng.choice(["ymin", "xmin", "ymax", "xmax"])
    _set_feature(features[f"image/object/bbox/{coord}"], "float", _random_values(rng, "float"))


def mutate(serialized, rng):
  """1-3 mutations; a fifth of the time at the byte level."""
  if rng.random() < 0.2:
    data = bytearray(serialized)
    choice = rng.choice(["flip", "cut", "insert"])
    if choice == "flip" and data:
      for _ in range(rng.randrange(1, 6)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif choice == "cut":
      data = data[:rng.randrange(len(data) + 1)]
    else:
      at = rng.randrange(len(data) + 1)
      data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
    return bytes(data)
  example = tf.train.Example.FromString(serialized)
  for _ in range(rng.randrange(1, 4)):
    mutate_example(example, rng)
  return example.SerializeToString()


def fuzz_records(seed, count):
  rng = random.Random(seed)
  seeds = [e.SerializeToString() for e in seed_examples()]
  return [mutate(rng.choice(seeds), rng) for _ in range(count)]


@pytest.fixture(scope="module")
def label_map(tmp_path_factory):
  path = tmp_path_factory.mktemp("fuzz") / "label_map.txt"
  path.write_text('item { id: 1 name: "a" } item { id: 2 name: "b" } item { id: 3 name: "c" }')
  return str(path)


def run_pipeline(records, directory, label_map_path):
  """Runs `records` through the training input; returns (number out, skip reasons)."""
  path = str(directory / f"fuzz-{hashlib.sha1(b''.join(records)).hexdigest()[:12]}")
  synthetic.write_tfrecord(path, records)
  model = text_format.Parse(
      f"center_net {{ num_classes: {NUM_CLASSES} image_resizer {{ keep_aspect_ratio_resizer {{ "
      f"min_dimension: {SIZE} max_dimension: {SIZE} pad_to_max_dimension: true }} }} }}",
      model_pb2.DetectionModel())
  train = text_format.Parse(f"batch_size: 1 {AUGMENTATIONS}", train_pb2.TrainConfig())
  reader = text_format.Parse(
      f'label_map_path: "{label_map_path}" load_instance_masks: true mask_type: PNG_MASKS '
      f"max_number_of_boxes: {MAX_BOXES} shuffle: false num_epochs: 1 num_readers: 1 "
      f'drop_remainder: false tf_record_input_reader {{ input_path: "{path}" }}',
      input_reader_pb2.InputReader())
  resizer = image_resizer_builder.build(model.center_net.image_resizer)

  def preprocess(images):  # a model's preprocess: resize (+ pad) and normalise
    resized, true_shapes = resizers.resize_batch(resizer, images)
    return resized / 255.0, true_shapes

  record_guard.reset()
  dataset = inputs.train_input(train, reader, model, seed=1, preprocess_fn=preprocess)
  produced = 0
  for features, labels in dataset:
    assert features[F.image].shape == (1, SIZE, SIZE, 3)
    assert labels[F.groundtruth_boxes].shape == (1, MAX_BOXES, 4)
    assert labels[F.groundtruth_instance_masks].shape == (1, MAX_BOXES, SIZE, SIZE)
    assert np.isfinite(features[F.image].numpy()).all()
    produced += 1
  health = record_guard.health("train_input_reader")
  reasons = [m for m in health.recent]  # deque of the last 20
  assert produced + health.skipped_records == len(records), (produced, health.skipped_records)
  os.remove(path)
  return produced, health.skipped_records, reasons


def _save_culprits(records, directory, label_map_path):
  """Finds the records that break the oracle on their own and saves them to the corpus."""
  CORPUS.mkdir(parents=True, exist_ok=True)
  saved = []
  for record in dict.fromkeys(records):
    if _check([record], directory, label_map_path)[0] is not None:
      name = CORPUS / f"{hashlib.sha1(record).hexdigest()[:16]}.bin"
      name.write_bytes(record)
      saved.append(str(name))
  return saved


def _check(records, directory, label_map_path):
  """(None, produced, skipped) when the oracle holds, else (a description, 0, 0)."""
  try:
    produced, skipped, reasons = run_pipeline(records, directory, label_map_path)
  except Exception as e:  # pylint: disable=broad-except (any escape is a finding)
    return f"{type(e).__name__}: {str(e)[:500]}", 0, 0
  vague = [r for r in reasons if any(b in r for b in BAD_REASONS)]
  if vague:
    return f"vague skip reasons: {vague[:2]}", 0, 0
  return None, produced, skipped


def test_fuzzed_records_give_a_clean_result_or_a_named_skip(tmp_path, label_map):
  seed = int(os.environ.get("DEEPMAC_FUZZ_SEED", "0"))
  deadline = time.monotonic() + float(os.environ.get("DEEPMAC_FUZZ_SECONDS", "0"))
  round_index = 0
  while round_index < ROUNDS or time.monotonic() < deadline:
    records = fuzz_records(seed * 1_000_003 + round_index, RECORDS)
    problem, produced, skipped = _check(records, tmp_path, label_map)
    if problem is not None:
      saved = _save_culprits(records, tmp_path, label_map)
      pytest.fail(f"seed {seed} round {round_index}: {problem}; records saved to the "
                  f"regression corpus: {saved or 'none alone (a combination)'}")
    if round_index == 0:  # the mutator makes both kinds, so both paths are exercised
      assert len(set(records)) > RECORDS // 2 and produced > 0 and skipped > 0
    round_index += 1


def test_regression_corpus(tmp_path, label_map):
  """Records that once broke the input pipeline (the issue's cases, fuzzer findings)."""
  files = sorted(CORPUS.glob("*.bin"))
  assert len(files) >= 4, f"corpus missing in {CORPUS}"
  problem, produced, skipped = _check([f.read_bytes() for f in files], tmp_path, label_map)
  assert problem is None
  assert skipped >= 4 and produced + skipped == len(files)
