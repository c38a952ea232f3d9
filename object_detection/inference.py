"""Runs an exported model on image files: COCO results JSON + PNG overlays.

  python -m object_detection.inference --exported_dir=EXPORT_DIR --images='photos/*.jpg' \
      --output_dir=OUT [--label_map_path=label_map.pbtxt] [--min_score_thresh=0.3]

EXPORT_DIR is exporter_main_v2's --output_directory (holding saved_model/ and pipeline.config;
the label map comes from the eval reader of that pipeline.config unless given) or a
saved_model folder. Writes OUT/detections.json (COCO results: image_id = file name,
category_id, bbox [x, y, w, h] in pixels, score, segmentation RLE when the model has masks) and
OUT/<image name>.png with boxes, class names, scores and masks drawn over the image.
"""

import glob
import io
import json
import os

import numpy as np
from PIL import Image

from object_detection.core.errors import ConfigError
from object_detection.utils import cli
from object_detection.utils import flags


def _saved_model_path(exported_dir):
  inner = os.path.join(exported_dir, "saved_model")
  return inner if os.path.isdir(inner) else exported_dir


def category_index_for(exported_dir, label_map_path=None):
  """{id: {"id", "name"}} from the label map (given, or the exported pipeline's eval reader)."""
  from object_detection.utils import label_map_util  # pylint: disable=import-outside-toplevel
  if not label_map_path:
    config = os.path.join(exported_dir, "pipeline.config")
    if os.path.exists(config):
      from object_detection.builders import eval_builder  # pylint: disable=import-outside-toplevel
      from object_detection.config import loader  # pylint: disable=import-outside-toplevel
      pipeline = loader.parse_pipeline_text(loader.read_text(config), config)
      label_map_path = eval_builder.label_map_path(pipeline)
  if label_map_path and os.path.exists(label_map_path):
    return label_map_util.create_category_index_from_labelmap(label_map_path)
  return {}


class Detector:
  """A loaded SavedModel; `__call__(image uint8 [H,W,3])` -> numpy detections with full masks."""

  def __init__(self, exported_dir):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    self._tf = tf
    self._model = tf.saved_model.load(_saved_model_path(exported_dir))
    self._fn = self._model.signatures["serving_default"]
    spec = list(self._fn.structured_input_signature[1].values())[0]
    self._dtype = spec.dtype

  def _input(self, image):
    tf = self._tf
    if self._dtype == tf.uint8:
      return tf.constant(image[None])
    if self._dtype == tf.float32:
      return tf.constant(image[None], tf.float32)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return tf.constant([buf.getvalue()])

  def __call__(self, image):
    """image: [H, W, 3] uint8 -> dict: boxes [K,4] normalized, classes [K] int 1-based,
    scores [K], masks [K, H, W] uint8 (binary, pasted at the image size) or None."""
    from object_detection.ops import mask_ops  # pylint: disable=import-outside-toplevel
    out = self._fn(self._input(image))
    k = int(out["num_detections"][0])
    boxes = out["detection_boxes"][0][:k]
    result = {"boxes": boxes.numpy(), "scores": out["detection_scores"][0][:k].numpy(),
              "classes": out["detection_classes"][0][:k].numpy().astype(np.int32), "masks": None}
    if "detection_masks" in out:
      pasted = mask_ops.paste_box_masks(out["detection_masks"][0][:k], boxes, image.shape[0],
                                        image.shape[1])
      result["masks"] = (pasted.numpy() > 0.5).astype(np.uint8)
    return result


def coco_results(image_id, image_shape, detections, min_score_thresh):
  """Detections of one image -> COCO result dicts (absolute boxes, RLE masks)."""
  from object_detection.eval import coco_tools  # pylint: disable=import-outside-toplevel
  keep = detections["scores"] >= min_score_thresh
  h, w = image_shape[:2]
  masks = detections["masks"][keep] if detections["masks"] is not None else None
  return coco_tools.detection_annotations(
      image_id, detections["boxes"][keep] * np.array([h, w, h, w], np.float32),
      detections["scores"][keep], detections["classes"][keep], masks)


def run_inference(exported_dir, image_paths, output_dir, label_map_path=None,
                  min_score_thresh=0.3, max_boxes=20):
  """Runs the exported model on `image_paths`; writes overlays + detections.json; returns
  (list of COCO results, list of overlay paths)."""
  from object_detection.utils import visualization  # pylint: disable=import-outside-toplevel
  if not image_paths:
    raise ConfigError("--images: no image files matched (got an empty list; expected paths or "
                      "globs of JPEG/PNG files)")
  os.makedirs(output_dir, exist_ok=True)
  detector = Detector(exported_dir)
  categories = category_index_for(exported_dir, label_map_path)
  results, overlays = [], []
  for path in image_paths:
    image = np.asarray(Image.open(path).convert("RGB"))
    det = detector(image)
    name = os.path.splitext(os.path.basename(path))[0]
    results += coco_results(name, image.shape, det, min_score_thresh)
    drawn = visualization.draw_detections(image, det["boxes"], det["classes"], det["scores"],
                                          det["masks"], categories, min_score_thresh, max_boxes)
    out = os.path.join(output_dir, f"{name}.png")
    visualization.save_png(drawn, out)
    overlays.append(out)
  with open(os.path.join(output_dir, "detections.json"), "w", encoding="utf-8") as f:
    json.dump(results, f)
  return results, overlays


def build_parser():
  p = flags.FlagParser(prog="inference", description=__doc__.split("\n")[0])
  p.add_argument("--exported_dir", required=True,
                 help="exporter output directory (or a saved_model folder)")
  p.add_argument("--images", required=True, nargs="+", help="image files or globs")
  p.add_argument("--output_dir", required=True)
  p.add_argument("--label_map_path", default=None)
  p.add_argument("--min_score_thresh", type=float, default=0.3)
  p.add_argument("--max_boxes", type=int, default=20)
  return p


def main(argv=None):
  args = build_parser().parse_args(argv)
  cli.start(args)
  paths = sorted({p for pattern in args.images for p in glob.glob(pattern)})
  results, overlays = run_inference(args.exported_dir, paths, args.output_dir,
                                    args.label_map_path, args.min_score_thresh, args.max_boxes)
  print(f"{len(results)} detections in {len(overlays)} images -> {args.output_dir}")
  return 0


def run():
  """Console entry point (deepmac-infer)."""
  cli.run_main(main, configure_logging=False)


if __name__ == "__main__":
  run()
