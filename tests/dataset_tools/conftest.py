"""Tiny generated COCO datasets for the dataset-tools tests (64x48, 32x32 and 40x40 images)."""

import copy
import io
import json
import os

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

CATEGORIES = [{"id": 3, "name": "cat", "supercategory": "animal"},
              {"id": 7, "name": "dog", "supercategory": "animal"}]


def uncompressed_rle(mask):
  """COCO uncompressed RLE of a [H, W] 0/1 mask: column-major run lengths starting with zeros."""
  flat = np.asarray(mask, np.uint8).flatten(order="F")
  counts, current, run = [], 0, 0
  for value in flat:
    if value == current:
      run += 1
    else:
      counts.append(run)
      current, run = value, 1
  counts.append(run)
  return {"size": list(mask.shape), "counts": counts}


def compressed_rle(mask):
  rle = coco_mask.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
  return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}


def write_image(path, width, height, fmt, seed):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
  Image.fromarray(pixels).save(path, format=fmt)


def giant_png_header(width, height):
  """A PNG declaring width x height RGB with an empty IDAT: a header-only decompression bomb."""
  import struct
  import zlib

  def chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

  ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
  return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


class TinyCoco:
  """A 3-image COCO dataset on disk, with the masks and boxes the converter must reproduce.

  Image 1 "a.jpg" 64x48: ann 10 polygon square (cat, rows/cols 10..19), ann 11 crowd uncompressed
  RLE (dog, rows 5..9, cols 30..39), ann 12 compressed RLE (cat, rows 30..39, cols 40..59).
  Image 2 "sub/b.png" 32x32: no annotations. Image 3 "c.jpg" 40x40: ann 30 polygon (dog).
  """

  def __init__(self, root):
    self.root = str(root)
    self.image_dir = os.path.join(self.root, "images")
    self.annotations_file = os.path.join(self.root, "instances.json")
    write_image(os.path.join(self.image_dir, "a.jpg"), 64, 48, "JPEG", 1)
    write_image(os.path.join(self.image_dir, "sub", "b.png"), 32, 32, "PNG", 2)
    write_image(os.path.join(self.image_dir, "c.jpg"), 40, 40, "JPEG", 3)
    crowd = np.zeros((48, 64), np.uint8)
    crowd[5:10, 30:40] = 1
    rle_mask = np.zeros((48, 64), np.uint8)
    rle_mask[30:40, 40:60] = 1
    square = np.zeros((48, 64), np.uint8)
    square[10:20, 10:20] = 1
    square_c = np.zeros((40, 40), np.uint8)
    square_c[0:20, 20:40] = 1
    self.expected_masks = {10: square, 11: crowd, 12: rle_mask, 30: square_c}
    self.data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 48, "width": 64},
                   {"id": 2, "file_name": "sub/b.png", "height": 32, "width": 32},
                   {"id": 3, "file_name": "c.jpg", "height": 40, "width": 40}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 3, "iscrowd": 0, "area": 100.0,
             "bbox": [10, 10, 10, 10], "segmentation": [[10, 10, 20, 10, 20, 20, 10, 20]]},
            {"id": 11, "image_id": 1, "category_id": 7, "iscrowd": 1, "area": 50.0,
             "bbox": [30, 5, 10, 5], "segmentation": uncompressed_rle(crowd)},
            {"id": 12, "image_id": 1, "category_id": 3, "iscrowd": 0, "area": 200.0,
             "bbox": [40, 30, 20, 10], "segmentation": compressed_rle(rle_mask)},
            {"id": 30, "image_id": 3, "category_id": 7, "iscrowd": 0, "area": 400.0,
             "bbox": [20, 0, 20, 20], "segmentation": [[20, 0, 40, 0, 40, 20, 20, 20]]},
        ],
        "categories": copy.deepcopy(CATEGORIES),  # tests mutate entries
    }
    self.save()

  def save(self):
    with open(self.annotations_file, "w") as f:
      json.dump(self.data, f)

  def annotation(self, ann_id):
    return next(a for a in self.data["annotations"] if a["id"] == ann_id)


@pytest.fixture
def tiny_coco(tmp_path):
  return TinyCoco(tmp_path / "coco")


def parse_records(paths):
  """Reads every record of `paths` (in order) into tf.train.Example messages."""
  import tensorflow as tf
  examples = []
  for path in paths:
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
      examples.append(tf.train.Example.FromString(raw))
  return examples


def convert_reporting(tiny, out_dir, **kwargs):
  """Converts a TinyCoco to one masked shard under out_dir, collecting the skip reports.

  Returns:
    (ConversionSummary, list of the reported message strings).
  """
  from object_detection.dataset_tools import coco_conversion
  messages = []
  summary = coco_conversion.convert_coco_split(
      image_dir=tiny.image_dir, annotations_file=tiny.annotations_file,
      output_base=os.path.join(str(out_dir), "coco_train.record"), num_shards=1,
      include_masks=True, num_workers=1, progress_stream=None, report=messages.append, **kwargs)
  return summary, messages


def source_ids(summary):
  """The image/source_id bytes of every record a conversion wrote, in order."""
  return [e.features.feature["image/source_id"].bytes_list.value[0]
          for e in parse_records(summary.output_paths)]


def decode_png(data):
  return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture(scope="session")
def helpers():
  """The module-level helpers above (test files cannot import conftest under importlib mode)."""
  import types
  return types.SimpleNamespace(
      parse_records=parse_records, decode_png=decode_png, giant_png_header=giant_png_header,
      write_image=write_image, uncompressed_rle=uncompressed_rle, compressed_rle=compressed_rle,
      convert_reporting=convert_reporting, source_ids=source_ids)
