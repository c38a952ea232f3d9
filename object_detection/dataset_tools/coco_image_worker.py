"""Converts one COCO image record and its annotations to plain feature values (runs in workers).

No TensorFlow here: workers are spawned processes and only read files, decode, validate and
encode masks; the parent process builds the `tf.train.Example`s and writes the shards.

Every problem found is returned as a `Problem` (image id, annotation id, stable reason key,
message), never raised, so the parent decides between "skip and count" and `--strict`.
"""

import dataclasses
import hashlib
import io
import math
import numbers
import os
import threading
import time
import warnings

from PIL import Image

from object_detection.dataset_tools import coco_masks
from object_detection.dataset_tools.coco_masks import short_repr

# PIL's own default (~89.5 megapixels, 1 GiB of 24-bit pixels / 3); larger images are refused.
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485

IMAGE_FORMATS = {"JPEG": "jpeg", "PNG": "png"}

# Reason keys (stable: they appear in the final counts and tests pin them).
IMAGE_REASONS = ("bad_image_record", "duplicate_image_id", "unsafe_file_name", "missing_image",
                 "image_too_large", "undecodable_image", "image_size_mismatch",
                 "conversion_error")
ANNOTATION_REASONS = ("bad_annotation_record", "unknown_image", "unknown_category", "bad_bbox",
                      "degenerate_box", "box_outside_image", "polygon_too_few_points",
                      "bad_segmentation")
CATEGORY_REASONS = ("bad_category", "duplicate_category_id")


@dataclasses.dataclass(frozen=True)
class Problem:
  """One bad input. `annotation_id` is None when the whole image is skipped."""
  image_id: object
  annotation_id: object
  reason: str
  message: str


@dataclasses.dataclass(frozen=True)
class WorkerConfig:
  """What every image conversion needs besides the image and its annotations.

  categories: {category id: name}; image_dir: str; include_masks: bool; max_image_pixels: int;
  source: str, the annotations file name used in messages.
  """
  categories: dict
  image_dir: str
  include_masks: bool
  max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
  source: str = "annotations"


@dataclasses.dataclass
class ImageResult:
  """Output of `convert_image`: `features` is None when the image is skipped.

  features: keyword arguments for `dataset_util.make_tf_example` (plain Python values).
  """
  image_id: object
  features: dict
  problems: list
  num_annotations: int


def describe(source, image, annotation_id, message):
  """`<source>: image <id> (file '<name>')[, annotation <id>]: <message>`."""
  where = (f"{source}: image {short_repr(image.get('id'))} "
           f"(file {short_repr(image.get('file_name'))})")
  if annotation_id is not None:
    where += f", annotation {short_repr(annotation_id)}"
  return f"{where}: {message}"


def check_annotation_record(annotation):
  """The message for a malformed annotation field (id, image_id, category_id, iscrowd, area), or
  None. `bbox` and `segmentation` are checked where they are used."""
  for key in ("id", "image_id", "category_id"):
    value = annotation.get(key)
    if not (is_int(value) or (key == "id" and value is None)):
      return f"{key} is not an integer (got {short_repr(value)})"
  crowd = annotation.get("iscrowd", 0)
  if not (isinstance(crowd, numbers.Integral) and int(crowd) in (0, 1)):
    return f"iscrowd is not 0 or 1 (got {short_repr(crowd)})"
  area = annotation.get("area")
  if area is not None and not (isinstance(area, numbers.Real) and not isinstance(area, bool)
                               and math.isfinite(area) and area >= 0):
    return f"area is not a finite number >= 0 (got {short_repr(area)})"
  return None


def convert_image(config, image, annotations):
  """Reads, checks and converts one image.

  Args:
    config: WorkerConfig.
    image: dict, a COCO `images` entry (`id`, `file_name`, `height`, `width`).
    annotations: list of COCO `annotations` entries for this image.

  Returns:
    ImageResult. Boxes in `features["boxes"]` are normalized [ymin, xmin, ymax, xmax].
  """
  try:
    return _convert_image(config, image, annotations)
  except Exception as e:  # pylint: disable=broad-except
    # Every input check above has its own reason; this is the last line that keeps one image's
    # unforeseen failure from ending the whole split (BrokenProcessPool or a traceback).
    message = describe(config.source, image, None,
                       f"unexpected error while converting ({type(e).__name__}: {e}); the image "
                       "is skipped, please report this input")
    return ImageResult(image.get("id"), None,
                       [Problem(image.get("id"), None, "conversion_error", message)], 0)


def _convert_image(config, image, annotations):
  problems = []

  def image_problem(reason, message):
    problems.append(
        Problem(image.get("id"), None, reason, describe(config.source, image, None, message)))
    return ImageResult(image.get("id"), None, problems, 0)

  height, width = image.get("height"), image.get("width")
  file_name = image.get("file_name")
  if not (is_int(height) and is_int(width) and height > 0 and width > 0
          and isinstance(file_name, str)):
    return image_problem("bad_image_record",
                         "image record needs int height/width > 0 and a str file_name "
                         f"(got height={short_repr(height)}, width={short_repr(width)}, "
                         f"file_name={short_repr(file_name)})")
  path = _safe_join(config.image_dir, file_name)
  if path is None:
    return image_problem("unsafe_file_name",
                         f"file_name leaves the image directory (got {file_name!r}; expected a "
                         f"relative path inside {config.image_dir!r})")
  if not os.path.isfile(path):
    return image_problem("missing_image", f"image file not found (got {path!r})")
  with open(path, "rb") as f:
    encoded = f.read()
  image_format, failure = _check_image(config, encoded, height, width)
  if failure is not None:
    return image_problem(*failure)

  features = {
      "encoded_image": encoded, "image_format": image_format, "height": height, "width": width,
      "filename": file_name, "source_id": str(image["id"]),
      "sha256": hashlib.sha256(encoded).hexdigest(),
      "boxes": [], "class_labels": [], "class_texts": [], "is_crowd": [], "area": [],
  }
  if config.include_masks:
    features["masks_png"] = []
  for annotation in annotations:
    problem = _add_annotation(config, image, annotation, features)
    if problem is not None:
      problems.append(problem)
  return ImageResult(image["id"], features, problems, len(features["boxes"]))


def _add_annotation(config, image, annotation, features):
  """Appends one annotation to `features`, or returns the Problem that skips it."""
  ann_id = annotation.get("id")
  height, width = image["height"], image["width"]

  def problem(reason, message):
    return Problem(image["id"], ann_id, reason, describe(config.source, image, ann_id, message))

  record_problem = check_annotation_record(annotation)
  if record_problem is not None:
    return problem("bad_annotation_record", record_problem)
  category_id = annotation.get("category_id")
  if category_id not in config.categories:
    return problem("unknown_category",
                   f"category_id not in the file's categories (got {category_id!r}; expected one of "
                   f"{_short_list(sorted(config.categories))})")
  bbox = annotation.get("bbox")
  if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4 and
          all(isinstance(v, numbers.Real) and math.isfinite(v) for v in bbox)):
    return problem("bad_bbox",
                   f"bbox is not 4 finite numbers [x, y, width, height] (got {short_repr(bbox)})")
  x, y, box_w, box_h = (float(v) for v in bbox)
  if box_w <= 0 or box_h <= 0:
    return problem("degenerate_box", f"zero-area box (got width={box_w}, height={box_h}; expected > 0)")
  if x < 0 or y < 0 or x + box_w > width or y + box_h > height:
    return problem("box_outside_image",
                   f"box extends past the image (got [x, y, w, h] = {list(bbox)}; expected inside "
                   f"{width}x{height})")
  mask_png = None
  if config.include_masks:
    try:
      mask = coco_masks.segmentation_to_mask(annotation.get("segmentation"), height, width)
    except coco_masks.SegmentationError as e:
      return problem(e.reason, str(e))
    mask_png = coco_masks.encode_mask_png(mask)
  features["boxes"].append((y / height, x / width, (y + box_h) / height, (x + box_w) / width))
  features["class_labels"].append(int(category_id))
  features["class_texts"].append(config.categories[category_id])
  features["is_crowd"].append(int(bool(annotation.get("iscrowd", 0))))
  area = annotation.get("area")
  features["area"].append(float(box_w * box_h if area is None else area))
  if mask_png is not None:
    features["masks_png"].append(mask_png)
  return None


_WORKER_CONFIG = None


def init_worker(config, parent_pid=None, poll_seconds=0.5):
  """Pool initializer: keeps the WorkerConfig for `convert_in_worker` (sent once per worker).

  Also starts a watchdog thread that ends this worker when its parent process is gone: a parent
  killed with SIGKILL cannot shut the pool down, and workers blocked on the task queue would
  otherwise live on (holding memory and the output directory) until someone kills them.
  """
  global _WORKER_CONFIG
  _WORKER_CONFIG = config
  parent_pid = os.getppid() if parent_pid is None else parent_pid
  threading.Thread(target=_exit_with_parent, args=(parent_pid, poll_seconds), daemon=True,
                   name="exit-with-parent").start()


def _exit_with_parent(parent_pid, poll_seconds):
  # Once the parent is gone the worker is re-parented (to init or a subreaper): getppid changes.
  while os.getppid() == parent_pid:
    time.sleep(poll_seconds)
  os._exit(1)  # pylint: disable=protected-access (no cleanup: the parent's outputs are temporary)


def convert_in_worker(task):
  """Pool task: `(image, annotations)` -> ImageResult, with the config from `init_worker`."""
  image, annotations = task
  return convert_image(_WORKER_CONFIG, image, annotations)


def _check_image(config, encoded, height, width):
  """("jpeg"|"png", None) for a decodable image of the declared size, else (None, (reason, msg)).

  The pixel-count limit is checked from the header, before any pixel is decoded.
  """
  # Our explicit limit replaces PIL's global one (restored below), so --max_image_pixels is honoured
  # both ways; Image.open reads only the header.
  pil_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
  try:
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", Image.DecompressionBombWarning)
      pil = Image.open(io.BytesIO(encoded))
      pixels = pil.size[0] * pil.size[1]
      if pixels > config.max_image_pixels:
        return None, ("image_too_large",
                      f"image too large (got {pil.size[0]}x{pil.size[1]} = {pixels} pixels; "
                      f"expected <= {config.max_image_pixels}, see --max_image_pixels)")
      if pil.format not in IMAGE_FORMATS:
        return None, ("undecodable_image",
                      f"unsupported image format (got {pil.format}; expected JPEG or PNG)")
      pil.load()
  except Exception as e:  # PIL raises OSError, SyntaxError, ValueError... for corrupt files
    return None, ("undecodable_image", f"image does not decode ({type(e).__name__}: {e})")
  finally:
    Image.MAX_IMAGE_PIXELS = pil_limit
  if pil.size != (width, height):
    return None, ("image_size_mismatch",
                  f"image size differs from the json (got {pil.size[0]}x{pil.size[1]}; "
                  f"expected width x height = {width}x{height})")
  return IMAGE_FORMATS[pil.format], None


def _safe_join(image_dir, file_name):
  """image_dir/file_name, or None when file_name is absolute or climbs out with '..'.

  The check is lexical: symlinks that the user placed inside image_dir are followed.
  """
  if not file_name or os.path.isabs(file_name):
    return None
  normalized = os.path.normpath(file_name)
  if normalized == ".." or normalized.startswith(".." + os.sep) or normalized == ".":
    return None
  return os.path.join(image_dir, normalized)


def is_int(value):
  """An integer that is not a bool (json true/false must not pass as an id)."""
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _short_list(values, limit=8):
  shown = ", ".join(repr(v) for v in values[:limit])
  return f"[{shown}{', ...' if len(values) > limit else ''}]"
