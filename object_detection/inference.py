"""Runs an exported model on image files: COCO results JSON + PNG overlays.

  python -m object_detection.inference --exported_dir=EXPORT_DIR --images='photos/*.jpg' \
      --output_dir=OUT [--label_map_path=label_map.pbtxt] [--min_score_thresh=0.3]

EXPORT_DIR is exporter_main_v2's --output_directory (holding saved_model/ and pipeline.config;
the label map comes from the eval reader of that pipeline.config unless given), a saved_model
folder, or a directory of the original Object Detection API in the model zoo's layout
(pipeline.config + checkpoint/ckpt-0 written by the original, e.g. an untarred TF2 zoo model):
this package's model is then built from the pipeline and the original checkpoint restored into
it through the name maps of object_detection.conversion (the original's saved_model/ is not
used). Writes OUT/detections.json (COCO results: image_id = file name,
category_id, bbox [x, y, w, h] in pixels, score, segmentation RLE when the model has masks) and
OUT/<image name>.png with boxes, class names, scores and masks drawn over the image.
A file that cannot be read is reported, listed in OUT/skipped.json and skipped; the others are
still written, and the exit status is then 1. --runtime=onnx or litert runs the model.onnx or
model.tflite that exporter_main_v2 --output_format=onnx,tflite wrote beside saved_model/.
"""

import glob
import io
import json
import os
import sys

import numpy as np
from PIL import Image

from object_detection.core.errors import ConfigError, DataError
from object_detection.utils import cli
from object_detection.utils import flags


def _saved_model_path(exported_dir):
  inner = os.path.join(exported_dir, "saved_model")
  return inner if os.path.isdir(inner) else exported_dir


def original_checkpoint_dir(directory):
  """True for a zoo-layout directory whose checkpoint/ was written by the original API."""
  from object_detection.conversion import original_checkpoint  # pylint: disable=import-outside-toplevel
  if not (os.path.isfile(os.path.join(directory, "pipeline.config"))
          and os.path.isdir(os.path.join(directory, "checkpoint"))):
    return False
  return original_checkpoint.written_by_original(os.path.join(directory, "checkpoint"))


def serving_fn_from_checkpoint(directory):
  """image_tensor serving function of our model built from directory/pipeline.config with the
  original checkpoint of directory/checkpoint restored into it."""
  from object_detection.builders import model_builder  # pylint: disable=import-outside-toplevel
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  from object_detection.export import exporter_lib  # pylint: disable=import-outside-toplevel
  from object_detection.export import signatures  # pylint: disable=import-outside-toplevel
  pipeline = loader.load_pipeline_config(os.path.join(directory, "pipeline.config"))
  model = model_builder.build(pipeline.model, is_training=False)
  exporter_lib.restore_model(model, directory)
  return signatures.DetectionModule(model).serving_fn("image_tensor")


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


RUNTIMES = ("tensorflow", "onnx", "litert")


def as_rgb(image, name="image"):
  """[H, W] / [H, W, 1] (grayscale: repeated), [H, W, 3], [H, W, 4] (RGBA: alpha dropped) uint8
  -> [H, W, 3] uint8; anything else raises DataError naming `name`."""
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise DataError(f"{name}: pixel type {image.dtype} (got dtype {image.dtype}; expected uint8 "
                    f"RGB values 0-255)")
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim != 3 or image.shape[-1] not in (1, 3, 4) or min(image.shape[:2]) < 1:
    raise DataError(f"{name}: not an image (got shape {list(image.shape)}; expected [H, W], "
                    f"[H, W, 1], [H, W, 3] or [H, W, 4])")
  if image.shape[-1] == 1:
    return np.repeat(image, 3, axis=-1)
  return np.ascontiguousarray(image[..., :3])


def _runtime_runner(exported_dir, runtime, num_threads):
  """An ONNX Runtime / LiteRT callable image -> outputs dict, or None for TensorFlow."""
  if runtime not in RUNTIMES:
    raise ConfigError(f"--runtime: unknown runtime (got {runtime!r}; expected one of: "
                      f"{', '.join(RUNTIMES)})")
  if runtime == "tensorflow":
    return None
  from object_detection.export import litert_export  # pylint: disable=import-outside-toplevel
  from object_detection.export import onnx_export  # pylint: disable=import-outside-toplevel
  ext, name = (".onnx", onnx_export.file_name("serving_default")) if runtime == "onnx" else (
      ".tflite", litert_export.file_name("none"))
  path = exported_dir if exported_dir.endswith(ext) else os.path.join(exported_dir, name)
  if not os.path.isfile(path):
    raise ConfigError(f"--exported_dir: no {runtime} model (got {path!r}; expected a {ext} file "
                      f"written by exporter_main_v2 --output_format={ext[1:]})")
  if runtime == "onnx":
    runner = onnx_export.OnnxRunner(path, num_threads)
    return lambda image: runner(input_tensor=image)
  runner = litert_export.LiteRTRunner(path, num_threads)
  return lambda image: runner("serving_default", input_tensor=image)


class Detector:
  """An exported model; `__call__(image uint8 [H,W,3])` -> numpy detections with full masks.

  runtime: "tensorflow" (the SavedModel), "onnx" (model.onnx, ONNX Runtime) or "litert"
  (model.tflite, the LiteRT interpreter); the ONNX / LiteRT files come from exporter_main_v2
  --output_format=tflite,onnx and take uint8 [1, H, W, 3] images. Grayscale and RGBA images
  are converted to RGB (as_rgb).
  """

  def __init__(self, exported_dir, runtime="tensorflow", num_threads=None):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    self._tf = tf
    self._runner = _runtime_runner(exported_dir, runtime, num_threads)
    self.compute_dtype = None  # recorded in the SavedModel only
    if self._runner is not None:
      return
    if original_checkpoint_dir(exported_dir):
      self._fn = serving_fn_from_checkpoint(exported_dir)
      self._dtype = tf.uint8
      return
    self._model = tf.saved_model.load(_saved_model_path(exported_dir))
    self._fn = self._model.signatures["serving_default"]
    spec = list(self._fn.structured_input_signature[1].values())[0]
    self._dtype = spec.dtype
    # 'float32' or 'bfloat16' (exporter --use_bfloat16); older exports do not record it.
    recorded = getattr(self._model, "compute_dtype", None)
    self.compute_dtype = recorded().numpy().decode() if recorded is not None else "float32"

  def _input(self, image):
    tf = self._tf
    if self._dtype == tf.uint8:
      return tf.constant(image[None])
    if self._dtype == tf.float32:
      return tf.constant(image[None], tf.float32)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return tf.constant([buf.getvalue()])

  def raw_outputs(self, image):
    """image: [H, W, 3] uint8 -> the model's outputs for it, numpy, with the batch axis."""
    if self._runner is not None:
      return self._runner(image[None])
    return {k: v.numpy() for k, v in self._fn(self._input(image)).items()}

  def __call__(self, image):
    """image: [H, W, 3] uint8 (or grayscale / RGBA, converted) -> dict: boxes [K,4] normalized,
    classes [K] int 1-based, scores [K], masks [K, H, W] uint8 (binary, pasted at the image
    size) or None."""
    from object_detection.ops import mask_ops  # pylint: disable=import-outside-toplevel
    image = as_rgb(image)
    out = self.raw_outputs(image)
    k = int(out["num_detections"][0])
    boxes = out["detection_boxes"][0][:k]
    result = {"boxes": boxes, "scores": out["detection_scores"][0][:k],
              "classes": out["detection_classes"][0][:k].astype(np.int32), "masks": None}
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


def read_image(path):
  """An image file -> [H, W, 3] uint8 RGB (grayscale, palette and RGBA files converted).

  Raises DataError naming the file when it cannot be read or decoded.
  """
  try:
    with Image.open(path) as img:
      return np.asarray(img.convert("RGB"))
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    raise DataError(f"{path}: cannot read the image ({type(e).__name__}: {e})") from e


def _write_json(path, value):
  """Writes `value` as JSON through a temporary file and a rename (never half-written)."""
  tmp = f"{path}.tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(value, f)
  os.replace(tmp, path)


def infer_images(exported_dir, image_paths, output_dir, label_map_path=None,
                 min_score_thresh=0.3, max_boxes=20, runtime="tensorflow", skipped=()):
  """Runs the exported model on `image_paths`; writes overlays, detections.json and (when some
  files were skipped) skipped.json.

  An unreadable file is reported on stderr, listed in skipped.json with the reason, and the
  other files are still processed. `skipped`: (path, reason) pairs found before (e.g. paths
  that do not exist), reported the same way.

  The SavedModel computes in the dtype it was exported with (`Detector.compute_dtype`:
  float32, or bfloat16 after exporter --use_bfloat16).

  Returns:
    (COCO results list, overlay paths, skipped (path, reason) list).
  """
  from object_detection.utils import visualization  # pylint: disable=import-outside-toplevel
  if not image_paths and not skipped:
    raise ConfigError("--images: no image files matched (got an empty list; expected paths or "
                      "globs of JPEG/PNG files)")
  os.makedirs(output_dir, exist_ok=True)
  detector = Detector(exported_dir, runtime)
  categories = category_index_for(exported_dir, label_map_path)
  results, overlays, skipped = [], [], list(skipped)
  for path in image_paths:
    try:
      image = read_image(path)
    except DataError as e:
      skipped.append((path, str(e)))
      continue
    det = detector(image)
    name = os.path.splitext(os.path.basename(path))[0]
    results += coco_results(name, image.shape, det, min_score_thresh)
    drawn = visualization.draw_detections(image, det["boxes"], det["classes"], det["scores"],
                                          det["masks"], categories, min_score_thresh, max_boxes)
    out = os.path.join(output_dir, f"{name}.png")
    visualization.save_png(drawn, out)
    overlays.append(out)
  _write_json(os.path.join(output_dir, "detections.json"), results)
  skipped_json = os.path.join(output_dir, "skipped.json")
  if skipped:
    for path, reason in skipped:
      print(f"skipped {path}: {reason}", file=sys.stderr)
    _write_json(skipped_json, [{"file": p, "error": r} for p, r in skipped])
  elif os.path.exists(skipped_json):
    os.remove(skipped_json)
  return results, overlays, skipped


def run_inference(exported_dir, image_paths, output_dir, label_map_path=None,
                  min_score_thresh=0.3, max_boxes=20, runtime="tensorflow"):
  """infer_images without the skipped list: returns (COCO results, overlay paths)."""
  results, overlays, _ = infer_images(exported_dir, image_paths, output_dir, label_map_path,
                                      min_score_thresh, max_boxes, runtime)
  return results, overlays


def expand_images(patterns):
  """Globs -> (sorted existing paths, [(pattern, reason)] for plain paths that do not exist)."""
  paths, missing = set(), []
  for pattern in patterns:
    matched = glob.glob(pattern)
    if not matched and glob.escape(pattern) == pattern:
      missing.append((pattern, f"{pattern}: no such file"))
    paths.update(matched)
  return sorted(paths), missing


def build_parser():
  p = flags.FlagParser(prog="inference", description=__doc__.split("\n")[0])
  p.add_argument("--exported_dir", required=True,
                 help="exporter output directory, a saved_model folder, or a model-zoo "
                      "directory of the original (pipeline.config + checkpoint/)")
  p.add_argument("--images", required=True, nargs="+", help="image files or globs")
  p.add_argument("--output_dir", required=True)
  p.add_argument("--label_map_path", default=None)
  p.add_argument("--min_score_thresh", type=float, default=0.3)
  p.add_argument("--max_boxes", type=int, default=20)
  p.add_argument("--runtime", default="tensorflow", choices=RUNTIMES,
                 help="tensorflow (saved_model/), onnx (model.onnx) or litert (model.tflite)")
  return p


def main(argv=None):
  args = build_parser().parse_args(argv)
  cli.start(args)
  paths, missing = expand_images(args.images)
  results, overlays, skipped = infer_images(
      args.exported_dir, paths, args.output_dir, args.label_map_path, args.min_score_thresh,
      args.max_boxes, args.runtime, skipped=missing)
  print(f"{len(results)} detections in {len(overlays)} images -> {args.output_dir}"
        + (f"; {len(skipped)} files skipped (listed in skipped.json)" if skipped else ""))
  return 1 if skipped else 0


def run():
  """Console entry point (deepmac-infer)."""
  cli.run_main(main, configure_logging=False)


if __name__ == "__main__":
  run()
