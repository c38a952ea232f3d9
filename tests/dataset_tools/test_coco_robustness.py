"""Issue #15, converter side: one bad value costs its annotation (at most its image), never the split.

Each case reproduces a fault that used to end the whole conversion with a traceback (or, for a
short compressed RLE, silently produced a mask from uninitialised memory), and checks the named,
counted skip and that every good image is still written.
"""

import numpy as np
import pytest

from object_detection.dataset_tools import coco_masks


# ---- RLE counts: decoded and checked before pycocotools sees them ----------------------------

def test_short_compressed_rle_is_refused_not_decoded_from_uninitialised_memory(helpers):
  mask = np.zeros((8, 8), np.uint8)
  mask[2:4, 2:4] = 1
  short = helpers.compressed_rle(mask[:, :4].copy())  # counts cover 8x4 = 32 of 64 pixels
  with pytest.raises(coco_masks.SegmentationError, match=r"RLE counts sum to 32 \(expected "
                     r"height\*width = 64\)") as info:
    coco_masks.segmentation_to_mask({"size": [8, 8], "counts": short["counts"]}, 8, 8)
  assert info.value.reason == "bad_segmentation"


def test_compressed_counts_decode_as_pycocotools_encodes(helpers):
  rng = np.random.default_rng(0)
  for _ in range(20):
    mask = (rng.random((13, 7)) < 0.3).astype(np.uint8)
    rle = helpers.compressed_rle(mask)
    assert coco_masks.decode_compressed_counts(rle["counts"], 91) == (
        helpers.uncompressed_rle(mask)["counts"])
    np.testing.assert_array_equal(coco_masks.segmentation_to_mask(rle, 13, 7), mask)


@pytest.mark.parametrize("counts, text", [
    ([-5, 17], "uncompressed RLE counts must be integers >= 0 (got -5)"),
    ([5.5, 6.5], "uncompressed RLE counts must be integers >= 0 (got 5.5)"),
    ([True, 11], "uncompressed RLE counts must be integers >= 0 (got True)"),
    (["12"], "uncompressed RLE counts must be integers >= 0 (got '12')"),
    ("0@", "compressed RLE run 1 is negative (got -16)"),
    ("0\x01", "compressed RLE counts hold '\\x01' at position 1 (expected characters '0'..'o')"),
    ("<P", "compressed RLE counts end inside a number (truncated string?)"),
    ("0" * 20, "compressed RLE has more runs than pixels"),
    ({"a": 1}, "RLE counts must be a list or str (got dict)"),
])
def test_bad_rle_counts_are_refused(counts, text):
  with pytest.raises(coco_masks.SegmentationError) as info:
    coco_masks.segmentation_to_mask({"size": [4, 3], "counts": counts}, 4, 3)
  assert info.value.reason == "bad_segmentation"
  assert text in str(info.value)


@pytest.mark.parametrize("size, text", [
    (["4", "3"], "RLE size is not two numbers [height, width] (got ['4', '3'])"),
    ([4], "RLE size is not two numbers"),
    ([4.0, 3.0], None),  # whole floats are numbers
])
def test_rle_size_must_be_two_numbers(size, text):
  rle = {"size": size, "counts": [12]}
  if text is None:
    assert coco_masks.segmentation_to_mask(rle, 4, 3).sum() == 0
    return
  with pytest.raises(coco_masks.SegmentationError) as info:
    coco_masks.segmentation_to_mask(rle, 4, 3)
  assert text in str(info.value)


def test_polygon_far_outside_the_image_is_refused_instead_of_crashing_pycocotools():
  # 1e9 made pycocotools allocate gigabytes and segfault (killing the worker and the split).
  with pytest.raises(coco_masks.SegmentationError, match="polygon point far outside the 3x4 "
                     "image"):
    coco_masks.segmentation_to_mask([[0, 0, 1e9, 0, 1e9, 1e9]], 4, 3)
  # Slightly outside is fine: the mask is cropped to the image.
  assert coco_masks.segmentation_to_mask([[-1, -1, 4, -1, 4, 5, -1, 5]], 4, 3).sum() == 12


# ---- one bad value in the json: a counted skip, the other images written ----------------------

def _negative_rle_count(tiny):
  tiny.annotation(11)["segmentation"]["counts"][0] = -5


def _rle_size_strings(tiny):
  tiny.annotation(12)["segmentation"]["size"] = ["48", "64"]


def _short_compressed_rle(tiny):
  tiny.annotation(12)["segmentation"]["counts"] = tiny.annotation(12)["segmentation"]["counts"][:4]


def _category_id_list(tiny):
  tiny.annotation(10)["category_id"] = [3]


def _annotation_image_id_list(tiny):
  tiny.annotation(10)["image_id"] = [1]


def _iscrowd_string(tiny):
  tiny.annotation(10)["iscrowd"] = "yes"


def _area_nan(tiny):
  tiny.annotation(10)["area"] = float("nan")


ANNOTATION_FAULTS = {
    "negative_rle_count": (_negative_rle_count, 11, "bad_segmentation",
                           "uncompressed RLE counts must be integers >= 0 (got -5)"),
    "rle_size_strings": (_rle_size_strings, 12, "bad_segmentation",
                         "RLE size is not two numbers [height, width] (got ['48', '64'])"),
    "short_compressed_rle": (_short_compressed_rle, 12, "bad_segmentation", "RLE counts sum to"),
    "category_id_list": (_category_id_list, 10, "bad_annotation_record",
                         "category_id is not an integer (got [3])"),
    "image_id_list": (_annotation_image_id_list, 10, "bad_annotation_record",
                      "image_id is not an integer (got [1])"),
    "iscrowd_string": (_iscrowd_string, 10, "bad_annotation_record",
                       "iscrowd is not 0 or 1 (got 'yes')"),
    "area_nan": (_area_nan, 10, "bad_annotation_record",
                 "area is not a finite number >= 0 (got nan)"),
}


@pytest.mark.parametrize("case", sorted(ANNOTATION_FAULTS))
def test_bad_annotation_value_costs_only_that_annotation(tiny_coco, tmp_path, helpers, case):
  breaker, ann_id, reason, text = ANNOTATION_FAULTS[case]
  breaker(tiny_coco)
  tiny_coco.save()
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out")
  assert summary.annotations_skipped == {reason: 1}
  assert summary.images_skipped == {}
  assert summary.images_written == 3 and summary.annotations_written == 3
  assert len(messages) == 1 and f"annotation {ann_id}: " in messages[0] and text in messages[0]
  assert helpers.source_ids(summary) == [b"1", b"2", b"3"]


def test_image_id_given_as_a_list_costs_only_that_image(tiny_coco, tmp_path, helpers):
  tiny_coco.data["images"][1]["id"] = [2]
  tiny_coco.save()
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out")
  assert summary.images_skipped == {"bad_image_record": 1}
  assert messages == [f"{tiny_coco.annotations_file}: images[1]: image id is not an integer "
                      "(got [2])"]
  assert helpers.source_ids(summary) == [b"1", b"3"]
  assert summary.annotations_written == 4


def test_category_id_given_as_a_list_costs_that_category_and_its_annotations(tiny_coco, tmp_path,
                                                                             helpers):
  tiny_coco.data["categories"][1]["id"] = [7]  # "dog": annotations 11 and 30
  tiny_coco.save()
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out")
  assert summary.categories_skipped == {"bad_category": 1}
  assert summary.annotations_skipped == {"unknown_category": 2}
  assert "categories[1]: needs an integer 'id'" in messages[0]
  assert helpers.source_ids(summary) == [b"1", b"2", b"3"]
  assert "train: skipped 1 categories (bad_category: 1)" in summary.format().replace(
      "coco_train.record", "train").replace(summary.name, "train")


def test_malformed_entries_of_every_list_are_counted_not_fatal(tiny_coco, tmp_path, helpers):
  tiny_coco.data["images"].append("not an image")
  tiny_coco.data["annotations"].append(["not", "an", "annotation"])
  tiny_coco.data["categories"].append({"id": 3, "name": "cat again"})
  tiny_coco.save()
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out")
  assert summary.images_skipped == {"bad_image_record": 1}
  assert summary.annotations_skipped == {"bad_annotation_record": 1}
  assert summary.categories_skipped == {"duplicate_category_id": 1}
  assert len(messages) == 3
  assert helpers.source_ids(summary) == [b"1", b"2", b"3"]


def test_an_unforeseen_failure_costs_one_image_not_the_split(tiny_coco, tmp_path, helpers,
                                                            monkeypatch):
  real = coco_masks.encode_mask_png

  def fail_on_the_dog(mask):
    if mask.shape == (40, 40):
      raise RuntimeError("simulated bug")
    return real(mask)

  monkeypatch.setattr(coco_masks, "encode_mask_png", fail_on_the_dog)
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out")
  assert summary.images_skipped == {"conversion_error": 1}
  assert "image 3 (file 'c.jpg'): unexpected error while converting (RuntimeError: simulated " \
         "bug)" in messages[0]
  assert helpers.source_ids(summary) == [b"1", b"2"]
