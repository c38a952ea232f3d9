"""COCO segmentations (polygons, uncompressed RLE, compressed RLE) -> binary masks -> PNG bytes.

No TensorFlow here: this runs inside the conversion worker processes.
"""

import io

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask


class SegmentationError(ValueError):
  """A segmentation that cannot become a mask; `reason` is a stable key for the skip counts."""

  def __init__(self, reason, message):
    super().__init__(message)
    self.reason = reason


def segmentation_to_mask(segmentation, height, width):
  """Decodes one COCO `segmentation` to a binary mask.

  Polygons of one annotation are merged (union), as the original does for non-crowd instances.
  A polygon needs >= 3 points: pycocotools would silently read a 2-point polygon (4 numbers) as
  a box, so it is refused here.

  Args:
    segmentation: list of polygons `[[x0, y0, x1, y1, ...], ...]` in absolute pixels, or an RLE
      dict `{"size": [height, width], "counts": list of ints (uncompressed) or str (compressed)}`.
    height, width: int, image size in pixels.

  Returns:
    [height, width] uint8 array of 0/1.

  Raises:
    SegmentationError: reason "polygon_too_few_points" or "bad_segmentation".
  """
  if isinstance(segmentation, list):
    rle = _polygons_to_rle(segmentation, height, width)
  elif isinstance(segmentation, dict):
    rle = _rle_dict_to_rle(segmentation, height, width)
  else:
    raise SegmentationError(
        "bad_segmentation",
        f"segmentation is neither a polygon list nor an RLE dict (got {type(segmentation).__name__})")
  try:
    mask = coco_mask.decode(rle)
  except Exception as e:  # pycocotools raises bare Exceptions / ValueErrors on corrupt counts
    raise SegmentationError("bad_segmentation", f"RLE does not decode ({e})") from e
  if mask.shape != (height, width):
    raise SegmentationError(
        "bad_segmentation",
        f"decoded mask has the wrong size (got {list(mask.shape)}; expected [{height}, {width}])")
  return (mask > 0).astype(np.uint8)


def _polygons_to_rle(polygons, height, width):
  if not polygons:
    raise SegmentationError("bad_segmentation", "empty polygon list (expected >= 1 polygon)")
  for polygon in polygons:
    if not _is_finite_number_list(polygon):
      raise SegmentationError(
          "bad_segmentation", "polygon is not a flat list of finite numbers [x0, y0, x1, y1, ...]")
    if len(polygon) % 2:
      raise SegmentationError(
          "bad_segmentation", f"polygon has an odd number of coordinates (got {len(polygon)})")
    if len(polygon) < 6:
      raise SegmentationError(
          "polygon_too_few_points",
          f"polygon with fewer than 3 points (got {len(polygon) // 2} points; expected >= 3)")
  rles = coco_mask.frPyObjects(polygons, height, width)
  return coco_mask.merge(rles)


def _is_finite_number_list(values):
  if not isinstance(values, list) or any(isinstance(v, (bool, str, bytes)) for v in values):
    return False
  try:
    array = np.asarray(values, dtype=np.float64)
  except (TypeError, ValueError):
    return False
  return array.ndim == 1 and bool(np.isfinite(array).all())


def _rle_dict_to_rle(rle, height, width):
  size, counts = rle.get("size"), rle.get("counts")
  if size is None or counts is None:
    raise SegmentationError("bad_segmentation", "RLE dict needs 'size' and 'counts'")
  if [int(s) for s in size] != [height, width]:
    raise SegmentationError(
        "bad_segmentation",
        f"RLE size differs from the image (got {list(size)}; expected [{height}, {width}])")
  if isinstance(counts, list):
    if sum(counts) != height * width:
      raise SegmentationError(
          "bad_segmentation",
          f"uncompressed RLE counts sum to {sum(counts)} (expected height*width = {height * width})")
    return coco_mask.frPyObjects(rle, height, width)
  if isinstance(counts, str):
    counts = counts.encode("ascii")
  if not isinstance(counts, bytes):
    raise SegmentationError(
        "bad_segmentation", f"RLE counts must be a list or str (got {type(counts).__name__})")
  return {"size": [height, width], "counts": counts}


def encode_mask_png(mask):
  """[H, W] uint8 0/1 mask -> PNG bytes (8-bit grayscale, values kept 0/1 like the original)."""
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(mask, dtype=np.uint8), mode="L").save(buffer, format="PNG")
  return buffer.getvalue()
