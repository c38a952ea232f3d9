"""The tiny Mask R-CNN (conftest: fake 2-conv backbone, RPN + padded NMS, crop_and_resize +
max-pool box head, 3 stages: masks on the final detections) through both deployment converters:
the LiteRT and ONNX files give the SavedModel's outputs within 2e-5 (measured <= 1e-6). The
full-size layouts (ResNet-50-FPN multi-level RoIAlign, hourglass mask heads) convert the same
way but take a minute of CPU each, so they are checked by hand (README, "Using an exported
model"), not here."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.export import exporter_lib
from object_detection.export import formats
from object_detection.export import litert_export
from object_detection.export import onnx_export


@pytest.fixture
def exported(tmp_path, tiny):
  make_model, _, _ = tiny
  root = tmp_path
  model = make_model(number_of_stages=3)
  pre, shapes = model.preprocess(tf.zeros([1, 64, 64, 3]))
  model.postprocess(model.predict(pre, shapes), shapes)
  exporter_lib.export_model(model, str(root), "image_tensor")
  formats.write_formats(str(root / "saved_model"), str(root), ["tflite", "onnx"])
  return root


@pytest.mark.slow
def test_mask_rcnn_converts_to_litert_and_onnx(exported):
  loaded = tf.saved_model.load(str(exported / "saved_model"))
  lite = litert_export.LiteRTRunner(str(exported / "model.tflite"))
  onnx = onnx_export.OnnxRunner(str(exported / "model.onnx"))
  rng = np.random.default_rng(4)
  for h, w in ((64, 64), (48, 80)):
    image = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    want = {k: v.numpy() for k, v in loaded.signatures["serving_default"](
        input_tensor=tf.constant(image)).items()}
    assert want["detection_masks"].shape[:2] == want["detection_boxes"].shape[:2]
    for name, got in (("litert", lite("serving_default", input_tensor=image)),
                      ("onnx", onnx(input_tensor=image))):
      assert sorted(got) == sorted(want), name
      for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=2e-5, err_msg=f"{name} {key}")
