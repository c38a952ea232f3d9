"""COCO segmentations (polygons, uncompressed RLE, compressed RLE) -> binary masks -> PNG bytes.

No TensorFlow here: this runs inside the conversion worker processes.
"""

import io
import math
import numbers

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
    # pycocotools rasterises every edge point by point: a coordinate of 1e9 allocates gigabytes
    # and crashes the process. Points may stray outside the image (the mask is cropped), not far.
    xs, ys = np.asarray(polygon[0::2], np.float64), np.asarray(polygon[1::2], np.float64)
    if (xs.min() < -width or xs.max() > 2 * width or ys.min() < -height or ys.max() > 2 * height):
      raise SegmentationError(
          "bad_segmentation", f"polygon point far outside the {width}x{height} image (got x in "
          f"[{xs.min():g}, {xs.max():g}], y in [{ys.min():g}, {ys.max():g}]; expected within one "
          "image size of it)")
  rles = coco_mask.frPyObjects([[float(v) for v in polygon] for polygon in polygons], height, width)
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
  """Checks an RLE dict completely and returns it as pycocotools' uncompressed form.

  pycocotools trusts its input: counts that cover fewer than height*width pixels decode into
  uninitialised memory, a negative count overflows, and a compressed string that ends inside a
  number is read past its end. So every count is decoded and checked here (non-negative integers
  summing to height*width) and pycocotools only ever sees the checked list.
  """
  size, counts = rle.get("size"), rle.get("counts")
  if size is None or counts is None:
    raise SegmentationError("bad_segmentation", "RLE dict needs 'size' and 'counts'")
  if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_whole_number(s) for s in size)):
    raise SegmentationError(
        "bad_segmentation", f"RLE size is not two numbers [height, width] (got {short_repr(size)})")
  if [int(s) for s in size] != [height, width]:
    raise SegmentationError(
        "bad_segmentation",
        f"RLE size differs from the image (got {list(size)}; expected [{height}, {width}])")
  if isinstance(counts, (str, bytes)):
    counts = decode_compressed_counts(counts, height * width)
  elif isinstance(counts, list):
    bad = next((c for c in counts if not _is_whole_number(c) or c < 0), None)
    if bad is not None:
      raise SegmentationError(
          "bad_segmentation",
          f"uncompressed RLE counts must be integers >= 0 (got {short_repr(bad)})")
    counts = [int(c) for c in counts]
  else:
    raise SegmentationError(
        "bad_segmentation", f"RLE counts must be a list or str (got {type(counts).__name__})")
  if sum(counts) != height * width:
    raise SegmentationError(
        "bad_segmentation",
        f"RLE counts sum to {sum(counts)} (expected height*width = {height * width})")
  return coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)


def decode_compressed_counts(text, num_pixels):
  """COCO's compressed RLE string -> list of run lengths (pycocotools' rleFrString, checked).

  Each run length is a little-endian base-32 number, one character (ord - 48) per 5 bits, bit 0x20
  set on all but its last character, bit 0x10 of the last character its sign; from the fourth run
  on, the number is the difference to the run two places back.

  Raises:
    SegmentationError("bad_segmentation") for characters outside '0'..'o', a number cut off at the
    end of the string, a negative run length, or more runs than `num_pixels` + 1.
  """
  if isinstance(text, bytes):
    try:
      text = text.decode("ascii")
    except UnicodeDecodeError:
      raise SegmentationError("bad_segmentation", "compressed RLE counts are not ASCII") from None
  counts, number, shift = [], 0, 0
  for position, char in enumerate(text):
    code = ord(char) - 48
    if not 0 <= code < 64:
      raise SegmentationError(
          "bad_segmentation", f"compressed RLE counts hold {char!r} at position {position} "
          "(expected characters '0'..'o')")
    number |= (code & 0x1F) << shift
    shift += 5
    if code & 0x20:
      continue
    if code & 0x10:
      number -= 1 << shift  # sign-extend
    if len(counts) > 2:
      number += counts[-2]
    if number < 0:
      raise SegmentationError(
          "bad_segmentation", f"compressed RLE run {len(counts)} is negative (got {number})")
    counts.append(number)
    if len(counts) > num_pixels + 1:
      raise SegmentationError(
          "bad_segmentation", f"compressed RLE has more runs than pixels (expected <= {num_pixels} "
          "pixels in all)")
    number, shift = 0, 0
  if shift:
    raise SegmentationError(
        "bad_segmentation", "compressed RLE counts end inside a number (truncated string?)")
  return counts


def _is_whole_number(value):
  """int (not bool), or a float with an integral value (json writers sometimes emit 48.0)."""
  if isinstance(value, bool):
    return False
  if isinstance(value, numbers.Integral):
    return True
  return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def short_repr(value, limit=60):
  """repr(value) cut to `limit` characters (bad values can be huge lists)."""
  text = repr(value)
  return text if len(text) <= limit else text[:limit - 3] + "..."


def encode_mask_png(mask):
  """[H, W] uint8 0/1 mask -> PNG bytes (8-bit grayscale, values kept 0/1 like the original)."""
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(mask, dtype=np.uint8), mode="L").save(buffer, format="PNG")
  return buffer.getvalue()
