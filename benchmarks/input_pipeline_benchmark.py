"""Input-pipeline throughput: decoded + augmented + padded batches per second.

Builds TFRecords (JPEG images as stored, one PNG mask per instance, class/text + class/label,
is_crowd, area) from a COCO-style json + image folder (default: ../shared/data/coco_mini train
split), then times `inputs.train_input` with the DeepMAC configs' augmentations
(random_horizontal_flip, random_adjust_{hue,contrast,saturation,brightness},
random_square_crop_by_scale 0.6-1.3) and keep_aspect_ratio_resizer min=max=512 with padding,
max_number_of_boxes 100, PNG masks. The model's preprocess is stood in for by the resizer plus
CenterNet's mean/std normalisation (the real one adds only elementwise ops).

Full run (prints batches/s and images/s):
  .venv/bin/python benchmarks/input_pipeline_benchmark.py --batch_size 16 --num_batches 50
Quick check:
  .venv/bin/python benchmarks/input_pipeline_benchmark.py --small
"""

import argparse
import os
import pathlib
import tempfile
import time

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from pycocotools.coco import COCO

from object_detection import inputs
from object_detection.builders import image_resizer_builder
from object_detection.data import resizers, synthetic
from object_detection.dataset_tools import dataset_util
from object_detection.protos import input_reader_pb2, model_pb2, train_pb2

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "coco_mini"

AUGMENTATIONS = """
  data_augmentation_options { random_horizontal_flip {} }
  data_augmentation_options { random_adjust_hue {} }
  data_augmentation_options { random_adjust_contrast {} }
  data_augmentation_options { random_adjust_saturation {} }
  data_augmentation_options { random_adjust_brightness {} }
  data_augmentation_options { random_square_crop_by_scale { scale_min: 0.6 scale_max: 1.3 } }
"""
MEANS = [104.01362025, 114.03422265, 119.9165958]
STDS = [73.6027665, 69.89082075, 70.9150767]


def write_records(annotations_file, image_dir, out_dir, max_images=None, num_shards=4):
  """COCO json + images -> `num_shards` TFRecords and a label map; returns the glob."""
  coco = COCO(str(annotations_file))
  image_ids = sorted(coco.getImgIds())[:max_images]
  names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
  label_map = "".join(f'item {{ id: {i} name: "{n}" }}\n' for i, n in sorted(names.items()))
  (out_dir / "label_map.txt").write_text(label_map)
  writers = [tf.io.TFRecordWriter(str(out_dir / f"bench-{s:05d}-of-{num_shards:05d}.tfrecord"))
             for s in range(num_shards)]
  for index, image_id in enumerate(image_ids):
    info = coco.loadImgs(image_id)[0]
    h, w = info["height"], info["width"]
    encoded = (pathlib.Path(image_dir) / info["file_name"]).read_bytes()
    anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id))
            if a["bbox"][2] > 0 and a["bbox"][3] > 0]
    boxes = [[a["bbox"][1] / h, a["bbox"][0] / w, (a["bbox"][1] + a["bbox"][3]) / h,
              (a["bbox"][0] + a["bbox"][2]) / w] for a in anns]
    f = dataset_util
    feature = {
        "image/encoded": f.bytes_feature(encoded), "image/format": f.bytes_feature("jpeg"),
        "image/height": f.int64_feature(h), "image/width": f.int64_feature(w),
        "image/source_id": f.bytes_feature(str(image_id)),
        "image/object/bbox/ymin": f.float_list_feature([b[0] for b in boxes]),
        "image/object/bbox/xmin": f.float_list_feature([b[1] for b in boxes]),
        "image/object/bbox/ymax": f.float_list_feature([b[2] for b in boxes]),
        "image/object/bbox/xmax": f.float_list_feature([b[3] for b in boxes]),
        "image/object/class/label": f.int64_list_feature([a["category_id"] for a in anns]),
        "image/object/class/text": f.bytes_list_feature([names[a["category_id"]] for a in anns]),
        "image/object/is_crowd": f.int64_list_feature([a["iscrowd"] for a in anns]),
        "image/object/area": f.float_list_feature([a["area"] for a in anns]),
        "image/object/mask": f.bytes_list_feature(
            [synthetic.encode_png(coco.annToMask(a)) for a in anns]),
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    writers[index % num_shards].write(example.SerializeToString())
  for writer in writers:
    writer.close()
  return str(out_dir / f"bench-?????-of-{num_shards:05d}.tfrecord"), len(image_ids)


def build_dataset(record_glob, label_map, image_size, batch_size, max_boxes, seed=None):
  model = text_format.Parse(
      f"center_net {{ num_classes: 90 image_resizer {{ keep_aspect_ratio_resizer {{ "
      f"min_dimension: {image_size} max_dimension: {image_size} pad_to_max_dimension: true }} }} }}",
      model_pb2.DetectionModel())
  train = text_format.Parse(f"batch_size: {batch_size} {AUGMENTATIONS}", train_pb2.TrainConfig())
  reader = text_format.Parse(
      f'label_map_path: "{label_map}" load_instance_masks: true mask_type: PNG_MASKS '
      f'max_number_of_boxes: {max_boxes} shuffle_buffer_size: 64 '
      f'tf_record_input_reader {{ input_path: "{record_glob}" }}', input_reader_pb2.InputReader())
  resizer = image_resizer_builder.build(model.center_net.image_resizer)

  def preprocess(images):
    resized, shapes = resizers.resize_batch(resizer, images)
    return (resized - MEANS) / STDS, shapes
  return inputs.train_input(train, reader, model, preprocess_fn=preprocess, seed=seed)


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--data_dir", default=str(DEFAULT_DATA))
  parser.add_argument("--annotations", default="instances_train.json")
  parser.add_argument("--image_size", type=int, default=512)
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--num_batches", type=int, default=50)
  parser.add_argument("--warmup_batches", type=int, default=5)
  parser.add_argument("--max_boxes", type=int, default=100)
  parser.add_argument("--max_images", type=int, default=None)
  parser.add_argument("--seed", type=int, default=1,
                      help="the training path (every training run has a seed: the resumable "
                           "order of data/resumable_order.py); -1: unseeded")
  parser.add_argument("--small", action="store_true",
                      help="quick check: 8 images, batch 2, 3 timed batches")
  args = parser.parse_args()
  if args.small:
    args.max_images, args.batch_size, args.num_batches, args.warmup_batches = 8, 2, 3, 1

  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    start = time.perf_counter()
    glob, count = write_records(pathlib.Path(args.data_dir) / args.annotations,
                                pathlib.Path(args.data_dir) / "images", tmp, args.max_images)
    print(f"wrote {count} examples in {time.perf_counter() - start:.1f}s")
    dataset = build_dataset(glob, tmp / "label_map.txt", args.image_size, args.batch_size,
                            args.max_boxes, None if args.seed < 0 else args.seed)
    iterator = iter(dataset)
    for _ in range(args.warmup_batches):
      features, labels = next(iterator)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(args.num_batches):
      features, labels = next(iterator)
    _ = labels["groundtruth_instance_masks"].numpy()  # make sure the last batch is materialised
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
  rate = args.num_batches / elapsed
  print(f"image {tuple(features['image'].shape)}, masks "
        f"{tuple(labels['groundtruth_instance_masks'].shape)} "
        f"{labels['groundtruth_instance_masks'].dtype.name}")
  print(f"input pipeline: {rate:.2f} batches/s = {rate * args.batch_size:.1f} images/s "
        f"(batch {args.batch_size}, {args.image_size}x{args.image_size}, {os.cpu_count()} CPUs, "
        f"{args.num_batches} batches after {args.warmup_batches} warm-up)")
  # CPU time of all threads: less sensitive than wall time to other load on a shared machine.
  print(f"input pipeline cpu: {1000 * cpu / (args.num_batches * args.batch_size):.1f} ms per image")
  return np.float32(rate)


if __name__ == "__main__":
  main()
