"""SavedModel export of the tiny model: every input type, float32 outputs, 1-based classes,
the box-prompted signature, the original's layout, and a fresh process gives the same results."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from object_detection import inference
from object_detection.export import exporter_lib
from object_detection.export import signatures
from object_detection.core.errors import ConfigError
from object_detection.training import testing

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_trained_model):
  """A tiny model with non-trivial weights saved as a training checkpoint."""
  root = tmp_path_factory.mktemp("export")
  model = tiny_trained_model(seed=4)
  step = tf.Variable(7, dtype=tf.int64)
  tf.train.CheckpointManager(tf.train.Checkpoint(step=step, model=model), str(root / "train"),
                             1).save(checkpoint_number=7)
  image = testing.synthetic_examples(1, seed=3)[0][0]
  return root, model, image


def _reference(model, image):
  pre, shapes = model.preprocess(tf.constant(image[None], tf.float32))
  return model.postprocess(model.predict(pre, shapes), shapes)


@pytest.mark.slow
def test_export_image_tensor_and_reload_in_fresh_process(trained):
  root, model, image = trained
  restored = testing.TinyCenterModel(seed=11)
  exporter_lib.restore_model(restored, str(root / "train"))
  names = exporter_lib.export_model(restored, str(root / "out"), "image_tensor")
  assert names == ["image_and_boxes", "serving_default"]
  assert os.path.exists(root / "out" / "checkpoint" / "ckpt-0.index")
  assert os.path.exists(root / "out" / "saved_model" / "saved_model.pb")
  np.save(root / "image.npy", image)
  script = (
      "import json, sys, numpy as np, tensorflow as tf\n"
      "m = tf.saved_model.load(sys.argv[1])\n"
      "out = m.signatures['serving_default'](input_tensor=tf.constant(np.load(sys.argv[2])[None]))\n"
      "boxes = tf.constant([[[0.1, 0.1, 0.5, 0.5]]])\n"
      "pm = m.signatures['image_and_boxes'](input_tensor=tf.constant(np.load(sys.argv[2])[None]),"
      " boxes=boxes)\n"
      "res = {k: v.numpy().tolist() for k, v in out.items()}\n"
      "res['dtypes'] = sorted({v.dtype.name for v in out.values()})\n"
      "res['prompt_masks'] = pm['detection_masks'].numpy().tolist()\n"
      "print('JSON' + json.dumps(res))\n")
  proc = subprocess.run([sys.executable, "-c", script, str(root / "out" / "saved_model"),
                         str(root / "image.npy")], capture_output=True, text=True, timeout=180,
                        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  res = json.loads(proc.stdout.split("JSON", 1)[1])
  ref = _reference(model, image)
  assert res["dtypes"] == ["float32"]
  np.testing.assert_allclose(res["detection_boxes"], ref["detection_boxes"], atol=1e-5)
  np.testing.assert_allclose(res["detection_scores"], ref["detection_scores"], atol=1e-5)
  np.testing.assert_array_equal(res["detection_classes"],
                                ref["detection_classes"].numpy() + 1)  # 1-based
  np.testing.assert_allclose(res["detection_masks"], ref["detection_masks"], atol=1e-5)
  want = model.predict_masks_from_boxes(tf.constant(image[None], tf.float32),
                                        tf.constant([[[0.1, 0.1, 0.5, 0.5]]]))
  np.testing.assert_allclose(res["prompt_masks"], want, atol=1e-5)


def _png(image):
  buf = io.BytesIO()
  Image.fromarray(image).save(buf, format="PNG")
  return buf.getvalue()


def test_other_input_types_give_the_same_detections(trained):
  _, model, image = trained
  module = signatures.DetectionModule(model)
  ref = module.serving_fn("image_tensor")(tf.constant(image[None]))
  example = tf.train.Example(features=tf.train.Features(feature={
      "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[_png(image)]))}))
  inputs = {"float_image_tensor": tf.constant(image[None], tf.float32),
            "encoded_image_string_tensor": tf.constant([_png(image)]),
            "tf_example": tf.constant([example.SerializeToString()])}
  for input_type, value in inputs.items():
    out = module.serving_fn(input_type)(value)
    assert all(v.dtype == tf.float32 for v in out.values())
    for key in ("detection_boxes", "detection_scores", "detection_classes", "num_detections"):
      np.testing.assert_allclose(out[key], ref[key], atol=1e-5, err_msg=input_type)
  with pytest.raises(ConfigError, match="input_type"):
    module.serving_fn("image_bytes")


def test_inference_writes_coco_json_and_overlays(trained, tmp_path):
  root, model, image = trained
  out = root / "out"
  if not (out / "saved_model").exists():
    exporter_lib.export_model(model, str(out), "image_tensor")
  Image.fromarray(image).save(tmp_path / "img.png")
  results, overlays = inference.run_inference(str(out), [str(tmp_path / "img.png")],
                                              str(tmp_path / "vis"), min_score_thresh=0.0,
                                              max_boxes=3)
  ref = _reference(model, image)
  k = int(ref["num_detections"][0])
  assert len(results) == k
  assert results[0]["image_id"] == "img"
  np.testing.assert_allclose(results[0]["score"], ref["detection_scores"][0][0], atol=1e-5)
  b = ref["detection_boxes"][0][0].numpy() * 64
  np.testing.assert_allclose(results[0]["bbox"], [b[1], b[0], b[3] - b[1], b[2] - b[0]],
                             atol=1e-3)
  assert "segmentation" in results[0]
  saved = json.loads((tmp_path / "vis" / "detections.json").read_text())
  assert len(saved) == k
  drawn = np.asarray(Image.open(overlays[0]))
  assert drawn.shape == image.shape and not np.array_equal(drawn, image)
  with pytest.raises(ConfigError, match="--images"):
    inference.run_inference(str(out), [], str(tmp_path / "none"))


def test_bfloat16_export_records_its_compute_dtype(trained, tmp_path):
  from object_detection.core import precision  # pylint: disable=import-outside-toplevel
  root, model, image = trained
  restored = testing.TinyCenterModel(seed=11)
  exporter_lib.restore_model(restored, str(root / "train"))
  precision.apply(restored, precision.MIXED_BFLOAT16)
  exporter_lib.export_model(restored, str(tmp_path / "bf16"), "image_tensor")
  detector = inference.Detector(str(tmp_path / "bf16"))
  assert detector.compute_dtype == "bfloat16"
  # Kernels are held in bfloat16 in the SavedModel; its checkpoint/ keeps float32 weights.
  saved = {v.dtype for v in tf.saved_model.load(str(tmp_path / "bf16" / "saved_model"))
           .model_variables}
  assert tf.bfloat16 in saved
  dtypes = tf.train.load_checkpoint(str(tmp_path / "bf16" / "checkpoint")) \
      .get_variable_to_dtype_map()
  assert {d for k, d in dtypes.items() if k.startswith("model/")} == {tf.float32}
  out = detector(image)
  ref = _reference(model, image)
  k = len(out["scores"])
  assert out["scores"].dtype == np.float32 and k == int(ref["num_detections"][0])
  # bfloat16 keeps ~3 significant digits.
  np.testing.assert_allclose(out["scores"], ref["detection_scores"][0][:k], atol=2e-2)
