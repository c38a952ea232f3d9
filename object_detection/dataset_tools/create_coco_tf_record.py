r"""COCO instance annotations -> sharded TFRecords (the Object Detection API's tool, in parallel).

Flags follow the original `create_coco_tf_record.py`; any split may be given alone:

  create_coco_tf_record --train_image_dir=train2017 \
      --train_annotations_file=annotations/instances_train2017.json \
      --val_image_dir=val2017 --val_annotations_file=annotations/instances_val2017.json \
      --output_dir=coco_tfrecords --include_masks

writes `coco_train.record-?????-of-00100`, `coco_val.record-?????-of-00050` (and
`coco_testdev.record-?????-of-00050` from --test_image_dir/--testdev_annotations_file). Each
example has the original's keys plus `image/object/class/label` (the dataset's own category ids)
next to `class/text`. Bad inputs are reported and skipped (or stop the run with --strict); the
run ends with counts of what was written and skipped. For the shipped DeepMAC configs use
`--shard_naming=model_garden --write_label_map` (train2017-?????-of-00256.tfrecord,
val2017-?????-of-00032.tfrecord and label_map.txt, the names their input readers expect).
Not implemented: the original's keypoint, DensePose and remove_non_person flags.
"""

import json
import os
import sys
from concurrent.futures.process import BrokenProcessPool

from object_detection.core.errors import DataError
from object_detection.dataset_tools import coco_conversion
from object_detection.dataset_tools import coco_image_worker
from object_detection.utils import cli
from object_detection.utils import flags

# (split, image-dir flag, annotations flag)
SPLITS = (
    ("train", "train_image_dir", "train_annotations_file"),
    ("val", "val_image_dir", "val_annotations_file"),
    ("testdev", "test_image_dir", "testdev_annotations_file"),
)
# --shard_naming: {split: (output prefix, default shard count)}, shard suffix.
SHARD_NAMING = {
    # The original OD API tool: coco_train.record-00000-of-00100.
    "od_api": ({"train": ("coco_train.record", 100), "val": ("coco_val.record", 50),
                "testdev": ("coco_testdev.record", 50)}, ""),
    # The Model Garden writer, as the shipped DeepMAC configs expect:
    # train2017-00000-of-00256.tfrecord, val2017-00000-of-00032.tfrecord.
    "model_garden": ({"train": ("train2017", 256), "val": ("val2017", 32),
                      "testdev": ("test-dev2017", 32)}, ".tfrecord"),
}
LABEL_MAP_NAME = "label_map.txt"
# The original's flags for what this tool does not convert.
UNSUPPORTED_FLAGS = ("train_keypoint_annotations_file", "val_keypoint_annotations_file",
                     "train_densepose_annotations_file", "val_densepose_annotations_file",
                     "remove_non_person_annotations", "remove_non_person_images")


def build_parser():
  parser = flags.FlagParser(
      prog="create_coco_tf_record",
      description="COCO instances json + images -> sharded TFRecords of tf.train.Example.")
  for _, image_flag, annotations_flag in SPLITS:
    parser.add_argument(f"--{image_flag}", default="", help="image directory of the split")
    parser.add_argument(f"--{annotations_flag}", default="", help="COCO instances json of the split")
  parser.add_argument("--output_dir", required=True, help="directory for the shards (created)")
  parser.add_bool("include_masks", default=False,
                  help="write image/object/mask, one PNG per instance")
  parser.add_argument("--num_shards", type=flags.positive_int, default=None,
                      help="shards per split (default: train 100, val 50, testdev 50 as the original; "
                           "256/32/32 with --shard_naming=model_garden)")
  parser.add_argument("--shard_naming", choices=sorted(SHARD_NAMING), default="od_api",
                      help="od_api: coco_train.record-00000-of-00100 (the original tool); "
                           "model_garden: train2017-00000-of-00256.tfrecord (the DeepMAC configs)")
  parser.add_bool("write_label_map", default=False,
                  help=f"also write <output_dir>/{LABEL_MAP_NAME} (StringIntLabelMap of the "
                       "json's categories: id, name, display_name)")
  parser.add_argument("--num_workers", type=flags.positive_int, default=coco_conversion.available_cpus(),
                      help="worker processes (default: all cores)")
  parser.add_bool("strict", default=False,
                  help="stop at the first bad input instead of skipping it")
  parser.add_argument("--max_image_pixels", type=flags.positive_int,
                      default=coco_image_worker.DEFAULT_MAX_IMAGE_PIXELS,
                      help="refuse larger images (decompression-bomb guard; default PIL's limit)")
  parser.add_bool("quiet", default=False, help="no progress bar")
  for name in UNSUPPORTED_FLAGS:
    parser.refuse(name, "keypoint, DensePose and person-only conversion are not implemented here "
                        "(expected COCO instances: boxes, classes and masks)")
  return parser


def main(argv=None):
  """Runs the conversion; returns the process exit code (0 ok, 1 data error, 2 usage error)."""
  parser = build_parser()
  args = parser.parse_args(argv)
  cli.start(args)
  jobs = []
  names, suffix = SHARD_NAMING[args.shard_naming]
  for split, image_flag, annotations_flag in SPLITS:
    prefix, default_shards = names[split]
    image_dir, annotations = getattr(args, image_flag), getattr(args, annotations_flag)
    if bool(image_dir) != bool(annotations):
      parser.error(f"--{image_flag} and --{annotations_flag} go together (got "
                   f"{image_dir or 'nothing'!r} and {annotations or 'nothing'!r})")
    if image_dir:
      jobs.append((split, image_dir, annotations, prefix, args.num_shards or default_shards))
  if not jobs:
    parser.error("nothing to convert (expected at least one split, e.g. --train_image_dir with "
                 "--train_annotations_file)")
  categories = {}
  try:
    for split, image_dir, annotations, prefix, num_shards in jobs:
      summary = coco_conversion.convert_coco_split(
          image_dir=image_dir, annotations_file=annotations,
          output_base=os.path.join(args.output_dir, prefix), num_shards=num_shards,
          include_masks=args.include_masks, num_workers=args.num_workers, strict=args.strict,
          max_image_pixels=args.max_image_pixels,
          progress_stream=None if args.quiet else sys.stderr, name=split, shard_suffix=suffix)
      print(summary.format(), file=sys.stderr)
      if args.write_label_map:
        _merge_categories(categories, summary.categories, annotations)
    if args.write_label_map:
      path = os.path.join(args.output_dir, LABEL_MAP_NAME)
      write_label_map(path, categories)
      print(f"wrote {path} ({len(categories)} classes)", file=sys.stderr)
  except DataError as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  except BrokenProcessPool as e:
    print(f"error: a worker process died ({e}); out of memory? try a smaller --num_workers. "
          "No shard of the failed split was written.", file=sys.stderr)
    return 1
  return 0


def _merge_categories(merged, categories, source):
  for category_id, name in categories.items():
    if merged.setdefault(category_id, name) != name:
      raise DataError(f"{source}: category {category_id!r} is named {name!r} here but "
                      f"{merged[category_id]!r} in an earlier split (expected the same categories)")


def write_label_map(path, categories):
  """Writes {id: name} as a StringIntLabelMap text file (items by id; name = display_name).

  The file appears atomically (temp name, then rename).
  """
  lines = []
  for category_id in sorted(categories):
    name = json.dumps(categories[category_id], ensure_ascii=False)  # text-format string literal
    lines.append(f"item {{\n  id: {int(category_id)}\n  name: {name}\n  display_name: {name}\n}}\n")
  # pylint: disable=import-outside-toplevel (TensorFlow: see the note in coco_conversion)
  from object_detection.dataset_tools import tf_record_creation_util
  tf_record_creation_util.remove_stale_temporaries([tf_record_creation_util.temp_pattern(path)])
  temp = f"{path}.tmp-{os.getpid()}"
  with open(temp, "w", encoding="utf8") as f:
    f.write("".join(lines))
  os.replace(temp, path)


def run():
  """Console-script entry point (`create_coco_tf_record`)."""
  cli.run_main(lambda: main(sys.argv[1:]), configure_logging=False)


if __name__ == "__main__":
  run()
