"""COCO json -> TFRecord -> TfExampleDecoder gives back the json's boxes, classes and masks.

Real data from ../shared/data: 6 coco_mini val images (polygons and crowd uncompressed RLE) and
the 125-instance nuclei image (compressed RLE, PNG image), whose masks are checked against the
independent uint16 label image shipped with it. Decoded eagerly and inside tf.data.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from pycocotools.coco import COCO

from object_detection.core.fields import InputDataFields as F
from object_detection.data.decoder import PNG_MASKS, TfExampleDecoder
from object_detection.dataset_tools import coco_conversion


def _subset(shared_dir, tmp_path, num_images=6):
  """coco_mini val images: one with a crowd RLE annotation, one without annotations, then the first."""
  with open(shared_dir / "data" / "coco_mini" / "instances_val.json") as f:
    data = json.load(f)
  crowd_image = next(a["image_id"] for a in data["annotations"] if a["iscrowd"])
  annotated = {a["image_id"] for a in data["annotations"]}
  empty_image = next(im["id"] for im in data["images"] if im["id"] not in annotated)
  keep = [crowd_image, empty_image] + [im["id"] for im in data["images"]
                                       if im["id"] not in (crowd_image, empty_image)][:num_images - 2]
  data["images"] = [im for im in data["images"] if im["id"] in keep]
  data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
  path = tmp_path / "subset.json"
  path.write_text(json.dumps(data))
  return str(path)


def _convert(image_dir, annotations_file, out_dir, num_shards):
  summary = coco_conversion.convert_coco_split(
      image_dir=str(image_dir), annotations_file=annotations_file,
      output_base=str(out_dir / "coco.record"), num_shards=num_shards, include_masks=True,
      num_workers=1, progress_stream=None)
  assert sum(summary.images_skipped.values()) == 0 and sum(summary.annotations_skipped.values()) == 0
  return summary


def _decode_all(paths):
  decoder = TfExampleDecoder(load_instance_masks=True, instance_mask_type=PNG_MASKS)
  eager = [decoder.decode(tf.constant(raw))
           for path in paths for raw in tf.data.TFRecordDataset(path).as_numpy_iterator()]
  in_data = list(tf.data.TFRecordDataset(paths).map(decoder.decode).as_numpy_iterator())
  return eager, in_data


def _expected_boxes(annotations, height, width):
  return np.array([[y / height, x / width, (y + h) / height, (x + w) / width]
                   for x, y, w, h in (a["bbox"] for a in annotations)], np.float32).reshape(-1, 4)


def test_coco_mini_round_trip(shared_dir, tmp_path):
  annotations_file = _subset(shared_dir, tmp_path)
  summary = _convert(shared_dir / "data" / "coco_mini" / "images", annotations_file, tmp_path, 2)
  coco = COCO(annotations_file)
  eager, in_data = _decode_all(summary.output_paths)
  assert len(eager) == len(in_data) == 6
  by_id = {int(d[F.source_id].numpy()): d for d in eager}
  assert sorted(by_id) == sorted(coco.getImgIds())
  num_crowd = num_empty = 0
  for decoded_data in in_data:
    image_id = int(decoded_data[F.source_id])
    decoded = by_id[image_id]
    info = coco.loadImgs(image_id)[0]
    anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=None))
    assert decoded[F.image].shape == (info["height"], info["width"], 3)
    np.testing.assert_allclose(decoded[F.groundtruth_boxes].numpy(),
                               _expected_boxes(anns, info["height"], info["width"]), atol=1e-6)
    np.testing.assert_array_equal(decoded[F.groundtruth_classes].numpy(), [a["category_id"] for a in anns])
    np.testing.assert_array_equal(decoded[F.groundtruth_is_crowd].numpy(), [bool(a["iscrowd"]) for a in anns])
    np.testing.assert_allclose(decoded[F.groundtruth_area].numpy(), [a["area"] for a in anns], rtol=1e-6)
    # pycocotools' own decoding path; images without annotations give [0, H, W].
    expected_masks = np.array([coco.annToMask(a) for a in anns], np.uint8).reshape(
        -1, info["height"], info["width"])
    np.testing.assert_array_equal(decoded[F.groundtruth_instance_masks].numpy(), expected_masks)
    for key in (F.groundtruth_boxes, F.groundtruth_classes, F.groundtruth_instance_masks):
      np.testing.assert_array_equal(decoded_data[key], decoded[key].numpy())  # tf.data == eager
    num_crowd += int(decoded[F.groundtruth_is_crowd].numpy().sum())
    num_empty += int(not anns)
  assert num_crowd >= 1 and num_empty == 1


@pytest.fixture(scope="module")
def nuclei_decoded(shared_dir, tmp_path_factory):
  nuclei = shared_dir / "data" / "nuclei"
  summary = _convert(nuclei / "images", str(nuclei / "instances.json"),
                     tmp_path_factory.mktemp("nuclei"), 1)
  assert summary.annotations_written == 125  # more than max_number_of_boxes' default 100: all kept
  with open(nuclei / "instances.json") as f:
    data = json.load(f)
  labels = np.asarray(Image.open(nuclei / "label_mask_uint16.png"))
  expected = np.stack([(labels == a["source_label"]).astype(np.uint8) for a in data["annotations"]])
  eager, in_data = _decode_all(summary.output_paths)
  return eager[0], in_data[0], data, expected


def test_nuclei_125_instances_round_trip(shared_dir, nuclei_decoded):
  decoded, decoded_data, data, expected = nuclei_decoded
  masks = decoded[F.groundtruth_instance_masks].numpy()
  assert masks.shape == (125, 512, 512) and masks.dtype == np.uint8
  np.testing.assert_array_equal(masks, expected)  # vs the independent uint16 label image
  np.testing.assert_array_equal(decoded_data[F.groundtruth_instance_masks], expected)
  np.testing.assert_allclose(decoded[F.groundtruth_boxes].numpy(),
                             _expected_boxes(data["annotations"], 512, 512), atol=1e-6)
  np.testing.assert_array_equal(decoded[F.groundtruth_classes].numpy(), np.ones(125))
  # The grayscale PNG comes back as 3 identical channels (the decoder asks for channels=3).
  image = decoded[F.image].numpy()
  gray = np.asarray(Image.open(shared_dir / "data" / "nuclei" / "images" / "dsb2018_nuclei_2d.png"))
  np.testing.assert_array_equal(image[..., 0], gray)
  np.testing.assert_array_equal(image[..., 2], gray)


def test_nuclei_instances_beyond_max_number_of_boxes_are_dropped_by_the_pipeline(nuclei_decoded):
  """The records keep all 125; the input pipeline's pad/clip keeps the first 100 (the original)."""
  from object_detection import inputs  # pylint: disable=import-outside-toplevel
  decoded, _, _, expected = nuclei_decoded
  tensors = dict(decoded)
  tensors[F.groundtruth_classes] = tf.one_hot(tensors[F.groundtruth_classes] - 1, 1)
  tensors[F.num_groundtruth_boxes] = tf.shape(tensors[F.groundtruth_boxes])[0]
  padded = inputs.pad_to_max_boxes(tensors, 100, 1, (512, 512))
  assert int(padded[F.num_groundtruth_boxes]) == 100
  assert padded[F.groundtruth_boxes].shape == (100, 4)
  np.testing.assert_array_equal(padded[F.groundtruth_instance_masks].numpy(), expected[:100])
  roomy = inputs.pad_to_max_boxes(tensors, 128, 1, (512, 512))
  assert int(roomy[F.num_groundtruth_boxes]) == 125
  assert roomy[F.groundtruth_instance_masks].numpy()[125:].sum() == 0  # zero padding
