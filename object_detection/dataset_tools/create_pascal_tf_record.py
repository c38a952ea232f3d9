r"""Converts PASCAL VOC (xml + JPEG, optional SegmentationObject PNGs) to one TFRecord file.

Flags follow the original `create_pascal_tf_record.py`:

  create_pascal_tf_record --data_dir=VOCdevkit --year=VOC2012 --set=train \
      --label_map_path=pascal_label_map.pbtxt --output_path=pascal_train.record

Each example has the original's keys (boxes, class/text + class/label from the label map,
difficult, truncated, view). When `<year>/SegmentationObject/<image>.png` exists, instance masks
are added as `image/object/mask` (one PNG per kept object): VOC numbers instances 1, 2, ... in
the order of the xml's objects, 0 is background and 255 the "void" border, which belongs to no
object. Only part of VOC is segmented: without --require_masks a record has masks only when its
PNG exists (the others have boxes only); with --require_masks the image list is read from
ImageSets/Segmentation and unsegmented images are skipped. Images whose xml, JPEG or mask is
missing or broken are reported and skipped; objects of classes absent from the label map, or with a
box that is not 4 finite numbers inside the image, or flags other than 0/1,
are reported and skipped. The output file appears only when the whole run succeeded.
"""

import collections
import contextlib
import hashlib
import io
import math
import os
import sys

import numpy as np
from lxml import etree
from PIL import Image

from object_detection.core.errors import ConfigError, DataError
from object_detection.dataset_tools.coco_masks import encode_mask_png
from object_detection.utils import label_map_util
from object_detection.utils import cli
from object_detection.utils import flags

# dataset_util and tf_record_creation_util import TensorFlow: they are imported inside the
# functions, so that the console script loads TensorFlow only after its flags (utils/cli.start).

SETS = ("train", "val", "trainval", "test")
YEARS = ("VOC2007", "VOC2012", "merged")


def load_label_map_dict(label_map_path):
  """{class name: id} of a StringIntLabelMap text file (the original's get_label_map_dict)."""
  return label_map_util.get_label_map_dict(label_map_path)


class SkipImage(Exception):
  """An image that cannot be converted (the message says why)."""


def dict_to_tf_example(data, dataset_directory, label_map_dict, ignore_difficult_instances=False,
                       image_subdirectory="JPEGImages", segmentation_subdirectory="SegmentationObject",
                       report=None):
  """One VOC annotation dict (from `recursive_parse_xml_to_dict(...)["annotation"]`) -> Example.

  Args:
    data: dict with `folder`, `filename`, `size` {width, height}, `object` list (name, bndbox,
      difficult, truncated, pose).
    dataset_directory: str, the VOCdevkit directory (the image is
      `<dataset_directory>/<folder>/<image_subdirectory>/<filename>`).
    label_map_dict: {class name: 1-based id}.
    ignore_difficult_instances: bool, drop objects marked difficult.
    report: callable(str) for skipped objects (default: stderr).

  Returns:
    tf.train.Example; boxes normalized [ymin, xmin, ymax, xmax] by the xml's size; masks are
    `[H, W]` uint8 0/1 PNGs at the image size when the SegmentationObject PNG exists.

  Raises:
    SkipImage: missing/non-JPEG/undecodable image, or a segmentation PNG of the wrong size.
  """
  from object_detection.dataset_tools import dataset_util  # pylint: disable=import-outside-toplevel
  report = report or (lambda message: print(f"warning: {message}", file=sys.stderr))
  folder, filename = data.get("folder", ""), data["filename"]
  image_path = os.path.join(dataset_directory, folder, image_subdirectory, filename)
  if not os.path.isfile(image_path):
    raise SkipImage(f"{image_path}: image file not found")
  with open(image_path, "rb") as f:
    encoded = f.read()
  try:
    image = Image.open(io.BytesIO(encoded))
    image.load()
  except Exception as e:  # PIL raises OSError, SyntaxError, ... for corrupt files
    raise SkipImage(f"{image_path}: image does not decode ({type(e).__name__}: {e})") from e
  if image.format != "JPEG":
    raise SkipImage(f"{image_path}: image format not JPEG (got {image.format}; expected JPEG)")
  size = data.get("size")
  width, height = (_positive_int(size.get("width")), _positive_int(size.get("height"))) \
      if isinstance(size, dict) else (None, None)
  if width is None or height is None:
    raise SkipImage(f"{image_path}: <size> needs integer <width> and <height> > 0 (got "
                    f"{size!r})")

  kept = []  # (index in the xml, object dict)
  for index, obj in enumerate(data.get("object", [])):
    problem = _object_problem(obj, width, height, label_map_dict)
    if problem is not None:
      report(f"{image_path}: object {index} skipped, {problem}")
      continue
    if ignore_difficult_instances and obj["difficult"]:
      continue
    kept.append((index, obj))

  masks_png = _instance_masks(dataset_directory, folder, segmentation_subdirectory, filename,
                              [index for index, _ in kept], height, width)
  boxes = []
  for _, obj in kept:
    xmin, ymin, xmax, ymax = obj["box"]
    boxes.append((ymin / height, xmin / width, ymax / height, xmax / width))
  objs = [obj for _, obj in kept]
  return dataset_util.make_tf_example(
      encoded_image=encoded, image_format="jpeg", height=height, width=width,
      filename=filename, source_id=filename, sha256=hashlib.sha256(encoded).hexdigest(),
      boxes=boxes, class_labels=[label_map_dict[o["name"]] for o in objs],
      class_texts=[o["name"] for o in objs],
      difficult=[o["difficult"] for o in objs], truncated=[o["truncated"] for o in objs],
      view=[o["pose"] for o in objs], masks_png=masks_png)


def _positive_int(text):
  try:
    value = int(str(text).strip())
  except ValueError:
    return None
  return value if value > 0 else None


def _flag(obj, key):
  """<difficult>/<truncated>: 0 or 1 (absent = 0), else None."""
  text = str(obj.get(key, "0")).strip() or "0"
  return int(text) if text in ("0", "1") else None


def _object_problem(obj, width, height, label_map_dict):
  """Why a VOC <object> cannot be used, or None; on None, `obj` gains "box" (xmin, ymin, xmax,
  ymax floats), "difficult", "truncated" (ints) and "pose" (str)."""
  if not isinstance(obj, dict):
    return f"not an <object> with children (got {obj!r})"
  name = obj.get("name")
  if name not in label_map_dict:
    return (f"class not in the label map (got {name!r}; expected one of "
            f"{sorted(label_map_dict)})")
  box = obj.get("bndbox")
  try:
    xmin, ymin, xmax, ymax = (float(box[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
  except (TypeError, KeyError, ValueError):
    return f"<bndbox> needs numbers xmin, ymin, xmax, ymax (got {box!r})"
  if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
    return f"<bndbox> values must be finite (got {box!r})"
  if not (0 <= xmin < xmax <= width and 0 <= ymin < ymax <= height):
    return (f"<bndbox> is empty or leaves the {width}x{height} image (got xmin={xmin:g}, "
            f"ymin={ymin:g}, xmax={xmax:g}, ymax={ymax:g})")
  difficult, truncated = _flag(obj, "difficult"), _flag(obj, "truncated")
  if difficult is None or truncated is None:
    return (f"<difficult> and <truncated> must be 0 or 1 (got {obj.get('difficult')!r}, "
            f"{obj.get('truncated')!r})")
  pose = obj.get("pose", "")
  obj.update(box=(xmin, ymin, xmax, ymax), difficult=difficult, truncated=truncated,
             pose=pose if isinstance(pose, str) else "")
  return None


def _instance_masks(dataset_directory, folder, subdirectory, filename, xml_indices, height, width):
  """PNG masks for the objects at `xml_indices`, or None when the image has no SegmentationObject."""
  stem = os.path.splitext(filename)[0]
  path = os.path.join(dataset_directory, folder, subdirectory, stem + ".png")
  if not os.path.isfile(path):
    return None
  try:
    instance_ids = np.asarray(Image.open(path))  # palette indices: 0 bg, k = object k, 255 void
  except Exception as e:  # corrupt PNG
    raise SkipImage(f"{path}: segmentation PNG does not decode ({type(e).__name__}: {e})") from e
  if instance_ids.shape != (height, width):
    raise SkipImage(f"{path}: segmentation size differs from the xml (got "
                    f"{list(instance_ids.shape)}; expected [{height}, {width}])")
  return [encode_mask_png((instance_ids == index + 1).astype(np.uint8)) for index in xml_indices]


def _example_ids(data_dir, year, split, require_masks):
  """Image ids of the set: ImageSets/Segmentation/<set>.txt with --require_masks, else Main."""
  from object_detection.dataset_tools import dataset_util  # pylint: disable=import-outside-toplevel
  candidates = [("Main", f"{split}.txt"), ("Main", f"aeroplane_{split}.txt")]
  if require_masks:
    candidates.insert(0, ("Segmentation", f"{split}.txt"))
  for folder, name in candidates:
    path = os.path.join(data_dir, year, "ImageSets", folder, name)
    if os.path.isfile(path):
      return dataset_util.read_examples_list(path)
  expected = " or ".join(os.path.join(folder, name) for folder, name in candidates)
  raise DataError(f"{os.path.join(data_dir, year, 'ImageSets')}: no image list for --set={split} "
                  f"(expected {expected})")


def convert(data_dir, year, split, annotations_dir, output_path, label_map_path,
            ignore_difficult_instances=False, require_masks=False, report=None):
  """Converts the listed VOC images to `output_path`; returns a Counter of written/skipped.

  With `require_masks`, images without a SegmentationObject PNG are skipped, so that every
  record has one mask per box (what a mask model's input pipeline needs); the image list then
  comes from ImageSets/Segmentation when present.
  """
  from object_detection.dataset_tools import dataset_util  # pylint: disable=import-outside-toplevel
  from object_detection.dataset_tools import tf_record_creation_util  # pylint: disable=import-outside-toplevel
  report = report or (lambda message: print(f"warning: {message}", file=sys.stderr))
  label_map_dict = load_label_map_dict(label_map_path)
  years = ["VOC2007", "VOC2012"] if year == "merged" else [year]
  counts = collections.Counter()
  tf_record_creation_util.remove_stale_temporaries(
      [tf_record_creation_util.temp_pattern(output_path)], report)
  with contextlib.ExitStack() as stack:
    (writer,) = tf_record_creation_util.open_atomic_tfrecords(stack, [output_path])
    for voc_year in years:
      for example_id in _example_ids(data_dir, voc_year, split, require_masks):
        xml_path = os.path.join(data_dir, voc_year, annotations_dir, example_id + ".xml")
        try:
          if not os.path.isfile(xml_path):
            raise SkipImage(f"{xml_path}: annotation file not found")
          try:
            with open(xml_path, "rb") as f:
              data = dataset_util.recursive_parse_xml_to_dict(etree.fromstring(f.read()))["annotation"]
          except (etree.XMLSyntaxError, KeyError) as e:
            raise SkipImage(f"{xml_path}: not a VOC annotation ({e})") from e
          try:
            example = dict_to_tf_example(data, data_dir, label_map_dict,
                                         ignore_difficult_instances, report=report)
          except (KeyError, ValueError, TypeError) as e:  # a field missing or not a number
            raise SkipImage(f"{xml_path}: malformed VOC annotation ({type(e).__name__}: {e})") from e
          if require_masks and "image/object/mask" not in example.features.feature:
            raise SkipImage(f"{xml_path}: no SegmentationObject PNG for this image (--require_masks)")
        except SkipImage as e:
          report(f"{e} (image skipped)")
          counts["images_skipped"] += 1
          continue
        writer.write(example.SerializeToString())
        counts["images_written"] += 1
        counts["images_with_masks"] += int("image/object/mask" in example.features.feature)
  return counts


def build_parser():
  parser = flags.FlagParser(prog="create_pascal_tf_record",
                            description="PASCAL VOC xml + JPEG -> one TFRecord file.")
  parser.add_argument("--data_dir", default="", help="root of VOCdevkit")
  parser.add_argument("--set", default="train", choices=SETS, help="which image set to convert")
  parser.add_argument("--annotations_dir", default="Annotations", help="xml directory in each year")
  parser.add_argument("--year", default="VOC2007", choices=YEARS, help="VOC2007, VOC2012 or merged")
  parser.add_argument("--output_path", default="", help="output TFRecord file")
  parser.add_argument("--label_map_path", default="data/pascal_label_map.pbtxt",
                      help="StringIntLabelMap text file")
  parser.add_bool("ignore_difficult_instances", default=False,
                  help="drop objects marked difficult")
  parser.add_bool("require_masks", default=False,
                  help="skip images without a SegmentationObject PNG (list from "
                       "ImageSets/Segmentation/<set>.txt when present)")
  return parser


def main(argv=None):
  """Returns the exit code (0 ok, 1 data error, 2 usage error)."""
  parser = build_parser()
  args = parser.parse_args(argv)
  cli.start(args)
  if not args.data_dir or not args.output_path:
    parser.error("--data_dir and --output_path are required")
  try:
    counts = convert(args.data_dir, args.year, args.set, args.annotations_dir, args.output_path,
                     args.label_map_path, args.ignore_difficult_instances, args.require_masks)
  except (DataError, ConfigError, OSError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  print(f"{args.output_path}: wrote {counts['images_written']} images "
        f"({counts['images_with_masks']} with masks), skipped {counts['images_skipped']}",
        file=sys.stderr)
  return 0


def run():
  """Console-script entry point (`create_pascal_tf_record`)."""
  cli.run_main(lambda: main(sys.argv[1:]), configure_logging=False)


if __name__ == "__main__":
  run()
