"""Every bad COCO input is reported (image id, annotation id, reason) and skipped, or stops --strict.

Each case breaks one thing in the generated 3-image set and checks the message, the counts and
that the good records still landed.
"""

import os

import pytest

from object_detection.core.errors import DataError
from object_detection.dataset_tools import coco_conversion
from object_detection.dataset_tools import create_coco_tf_record


def _break_missing_image(tiny):
  os.remove(os.path.join(tiny.image_dir, "c.jpg"))


def _break_undecodable_image(tiny):
  with open(os.path.join(tiny.image_dir, "c.jpg"), "wb") as f:
    f.write(b"\xff\xd8\xff\xe0 this is not a jpeg")


def _break_size_mismatch(tiny):
  tiny.data["images"][2]["width"] = 41


def _break_parent_dir(tiny):
  tiny.data["images"][2]["file_name"] = "../c.jpg"


def _break_absolute_path(tiny):
  tiny.data["images"][2]["file_name"] = os.path.join(tiny.image_dir, "c.jpg")


def _break_huge_image(tiny, helpers):
  with open(os.path.join(tiny.image_dir, "c.jpg"), "wb") as f:
    f.write(helpers.giant_png_header(100_000, 100_000))


IMAGE_CASES = {
    "missing_image": (_break_missing_image, "image file not found (got '"),
    "undecodable_image": (_break_undecodable_image, "image does not decode ("),
    "image_size_mismatch": (_break_size_mismatch, "image size differs from the json (got 40x40; "
                            "expected width x height = 41x40)"),
    "unsafe_file_name/parent": (_break_parent_dir, "file_name leaves the image directory (got '../c.jpg'"),
    "unsafe_file_name/absolute": (_break_absolute_path, "file_name leaves the image directory (got '/"),
    "image_too_large": (_break_huge_image, "image too large (got 100000x100000 = 10000000000 pixels; "
                        "expected <= 89478485, see --max_image_pixels)"),
}


@pytest.mark.parametrize("case", sorted(IMAGE_CASES))
def test_bad_image_is_reported_and_skipped(tiny_coco, tmp_path, helpers, case):
  breaker, text = IMAGE_CASES[case]
  breaker(*((tiny_coco, helpers) if case == "image_too_large" else (tiny_coco,)))
  tiny_coco.save()
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out")
  reason = case.split("/")[0]
  assert summary.images_skipped == {reason: 1}
  assert summary.annotations_skipped == {"image_skipped": 1}  # ann 30 went with image 3
  assert summary.images_written == 2 and summary.annotations_written == 3
  assert len(messages) == 1
  assert messages[0].startswith(f"{tiny_coco.annotations_file}: image 3 (file ")
  assert text in messages[0]
  assert [p.reason for p in summary.problems] == [reason]
  assert helpers.source_ids(summary) == [b"1", b"2"]  # the good records landed


def _break_few_points(tiny):
  tiny.annotation(10)["segmentation"] = [[10, 10, 20, 20]]


def _break_zero_area(tiny):
  tiny.annotation(10)["bbox"] = [10, 10, 0, 10]


def _break_outside(tiny):
  tiny.annotation(10)["bbox"] = [60, 10, 10, 10]


def _break_negative(tiny):
  tiny.annotation(10)["bbox"] = [-1, 10, 10, 10]


def _break_category(tiny):
  tiny.annotation(10)["category_id"] = 99


def _break_bbox_format(tiny):
  tiny.annotation(10)["bbox"] = [10, 10, 10]


def _break_rle_size(tiny):
  tiny.annotation(10)["segmentation"] = {"size": [10, 10], "counts": [100]}


ANNOTATION_CASES = {
    "polygon_too_few_points": (_break_few_points, "polygon with fewer than 3 points (got 2 points; expected >= 3)"),
    "degenerate_box": (_break_zero_area, "zero-area box (got width=0.0, height=10.0; expected > 0)"),
    "box_outside_image/right": (_break_outside, "box extends past the image (got [x, y, w, h] = [60, 10, 10, 10]; "
                                "expected inside 64x48)"),
    "box_outside_image/negative": (_break_negative, "box extends past the image (got [x, y, w, h] = [-1, 10, 10, 10]; "
                                   "expected inside 64x48)"),
    "unknown_category": (_break_category, "category_id not in the file's categories (got 99; expected one of [3, 7])"),
    "bad_bbox": (_break_bbox_format, "bbox is not 4 finite numbers [x, y, width, height] (got [10, 10, 10])"),
    "bad_segmentation": (_break_rle_size, "RLE size differs from the image (got [10, 10]; expected [48, 64])"),
}


@pytest.mark.parametrize("case", sorted(ANNOTATION_CASES))
def test_bad_annotation_is_reported_and_skipped(tiny_coco, tmp_path, helpers, case):
  breaker, text = ANNOTATION_CASES[case]
  breaker(tiny_coco)
  tiny_coco.save()
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out")
  reason = case.split("/")[0]
  assert summary.images_skipped == {}
  assert summary.annotations_skipped == {reason: 1}
  assert summary.images_written == 3 and summary.annotations_written == 3
  assert messages == [f"{tiny_coco.annotations_file}: image 1 (file 'a.jpg'), annotation 10: {text}"]
  examples = helpers.parse_records(summary.output_paths)
  first = examples[0].features.feature
  assert list(first["image/object/class/label"].int64_list.value) == [7, 3]  # anns 11 and 12 kept
  assert len(first["image/object/mask"].bytes_list.value) == 2


def test_duplicate_image_id_and_orphan_annotation(tiny_coco, tmp_path, helpers):
  tiny_coco.data["images"].append({"id": 3, "file_name": "a.jpg", "height": 48, "width": 64})
  tiny_coco.data["annotations"].append(
      {"id": 99, "image_id": 1234, "category_id": 3, "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": 0,
       "segmentation": [[1, 1, 3, 1, 3, 3]]})
  tiny_coco.save()
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out")
  assert summary.images_skipped == {"duplicate_image_id": 1}
  assert summary.annotations_skipped == {"unknown_image": 1}
  assert any("image 3 (file 'a.jpg'): duplicate image id" in m for m in messages)
  assert any("annotation 99: image_id not in 'images' (got 1234)" in m for m in messages)
  assert helpers.source_ids(summary) == [b"1", b"2", b"3"]


def test_bad_image_record(tiny_coco, tmp_path, helpers):
  tiny_coco.data["images"][1]["height"] = "32"
  tiny_coco.save()
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out")
  assert summary.images_skipped == {"bad_image_record": 1}
  assert "image record needs int height/width > 0 and a str file_name (got height='32'" in messages[0]


def test_max_image_pixels_flag_lowers_the_limit(tiny_coco, tmp_path, helpers):
  from PIL import Image
  pil_limit = Image.MAX_IMAGE_PIXELS
  summary, messages = helpers.convert_reporting(tiny_coco, tmp_path / "out",
                                                max_image_pixels=1600)
  assert Image.MAX_IMAGE_PIXELS == pil_limit  # PIL's global limit is restored
  assert summary.images_skipped == {"image_too_large": 1}  # 64x48 = 3072 > 1600; 32x32, 40x40 pass
  assert "image 1 (file 'a.jpg'): image too large (got 64x48 = 3072 pixels; expected <= 1600" in messages[0]


def test_strict_stops_at_the_first_bad_input_and_writes_nothing(tiny_coco, tmp_path, helpers):
  _break_missing_image(tiny_coco)
  with pytest.raises(DataError, match=r"image 3 \(file 'c.jpg'\): image file not found .*"
                     r"\[missing_image; --strict stops at the first bad input\]"):
    helpers.convert_reporting(tiny_coco, tmp_path / "out", strict=True)
  assert os.listdir(tmp_path / "out") == []


def test_strict_cli_exit_code_and_final_counts(tiny_coco, tmp_path, capsys):
  _break_zero_area(tiny_coco)
  tiny_coco.save()
  argv = [f"--train_image_dir={tiny_coco.image_dir}", f"--train_annotations_file={tiny_coco.annotations_file}",
          f"--output_dir={tmp_path / 'out'}", "--include_masks", "--num_shards=1", "--num_workers=1", "--quiet"]
  assert create_coco_tf_record.main(argv + ["--strict"]) == 1
  err = capsys.readouterr().err
  assert "error: " in err and "annotation 10: zero-area box" in err
  assert not os.path.exists(tmp_path / "out" / "coco_train.record-00000-of-00001")
  assert create_coco_tf_record.main(argv) == 0
  err = capsys.readouterr().err
  assert "warning: " in err and "annotation 10: zero-area box" in err
  assert "train: wrote 3 images, 3 annotations" in err
  assert "train: skipped 0 images" in err
  assert "train: skipped 1 annotations (degenerate_box: 1)" in err


def test_bad_inputs_in_parallel_mode(tiny_coco, tmp_path, helpers):
  _break_missing_image(tiny_coco)
  _break_category(tiny_coco)
  tiny_coco.save()
  messages = []
  summary = coco_conversion.convert_coco_split(
      image_dir=tiny_coco.image_dir, annotations_file=tiny_coco.annotations_file,
      output_base=str(tmp_path / "out" / "p"), num_shards=1, include_masks=True, num_workers=2,
      progress_stream=None, report=messages.append)
  assert summary.images_skipped == {"missing_image": 1}
  assert summary.annotations_skipped == {"unknown_category": 1, "image_skipped": 1}
  assert helpers.source_ids(summary) == [b"1", b"2"]
  assert len(messages) == 2
  before = open(summary.output_paths[0], "rb").read()
  with pytest.raises(DataError, match="unknown_category; --strict"):
    coco_conversion.convert_coco_split(
        image_dir=tiny_coco.image_dir, annotations_file=tiny_coco.annotations_file,
        output_base=str(tmp_path / "out" / "p"), num_shards=1, include_masks=True, num_workers=2,
        progress_stream=None, strict=True)
  assert sorted(os.listdir(tmp_path / "out")) == [os.path.basename(summary.output_paths[0]),
                                                  os.path.basename(summary.manifest_path)]
  assert open(summary.output_paths[0], "rb").read() == before  # the failed strict run kept it
