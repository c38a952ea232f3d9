"""COCO segmentation decoding: polygons, uncompressed and compressed RLE, and every refusal."""

import numpy as np
import pytest

from object_detection.dataset_tools import coco_masks


def test_polygon_square_covers_the_expected_pixels():
  mask = coco_masks.segmentation_to_mask([[10, 10, 20, 10, 20, 20, 10, 20]], 48, 64)
  expected = np.zeros((48, 64), np.uint8)
  expected[10:20, 10:20] = 1
  assert mask.dtype == np.uint8
  np.testing.assert_array_equal(mask, expected)


def test_two_polygons_are_merged():
  square = [10, 10, 20, 10, 20, 20, 10, 20]
  other = [40, 30, 50, 30, 50, 40, 40, 40]
  mask = coco_masks.segmentation_to_mask([square, other], 48, 64)
  assert mask.sum() == 200
  assert mask[35, 45] == 1 and mask[15, 15] == 1 and mask[25, 25] == 0


def test_uncompressed_and_compressed_rle_decode_to_the_same_mask(helpers):
  expected = np.zeros((6, 5), np.uint8)
  expected[1:4, 2:4] = 1
  expected[5, 0] = 1
  # Column-major runs, by hand: col0 = 5 zeros then 1 one; col1 = 6 zeros; col2, col3 = 0,1,1,1,0,0.
  by_hand = {"size": [6, 5], "counts": [5, 1, 6 + 1, 3, 2 + 1, 3, 2 + 6]}
  assert helpers.uncompressed_rle(expected) == by_hand
  np.testing.assert_array_equal(coco_masks.segmentation_to_mask(by_hand, 6, 5), expected)
  np.testing.assert_array_equal(
      coco_masks.segmentation_to_mask(helpers.compressed_rle(expected), 6, 5), expected)


def test_empty_rle_gives_an_all_zero_mask():
  mask = coco_masks.segmentation_to_mask({"size": [4, 3], "counts": [12]}, 4, 3)
  np.testing.assert_array_equal(mask, np.zeros((4, 3), np.uint8))


@pytest.mark.parametrize("segmentation, reason, text", [
    ([[1, 1, 5, 5]], "polygon_too_few_points", "fewer than 3 points (got 2 points"),
    ([], "bad_segmentation", "empty polygon list"),
    ([[1, 1, 5, 5, 9]], "bad_segmentation", "odd number of coordinates (got 5)"),
    ([[1, 1, 5, "x", 9, 9]], "bad_segmentation", "finite numbers"),
    ({"size": [10, 10], "counts": [100]}, "bad_segmentation", "RLE size differs from the image"),
    ({"size": [4, 3], "counts": [5, 2]}, "bad_segmentation", "counts sum to 7"),
    ({"counts": [12]}, "bad_segmentation", "needs 'size' and 'counts'"),
    ("polygon", "bad_segmentation", "neither a polygon list nor an RLE dict"),
])
def test_bad_segmentations_are_refused_with_a_reason(segmentation, reason, text):
  with pytest.raises(coco_masks.SegmentationError) as info:
    coco_masks.segmentation_to_mask(segmentation, 4, 3)
  assert info.value.reason == reason
  assert text in str(info.value)


def test_png_encoding_round_trips(helpers):
  mask = np.zeros((7, 9), np.uint8)
  mask[2:5, 3:8] = 1
  np.testing.assert_array_equal(helpers.decode_png(coco_masks.encode_mask_png(mask)), mask)
