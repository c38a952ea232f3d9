"""LiteRT export of the tiny DeepMAC config, run by the LiteRT interpreter against the SavedModel.

Tolerances (measured on this model, see each test): float32 within 1e-5 of the SavedModel
(measured <= 1e-6: the same float32 kernels, other summation orders). float16 weights: every
detection within 2e-3 (measured 1.2e-4). Dynamic-range int8: detections matched by class and box
within 5e-3 box / 5e-3 score / 2e-2 mask (measured 7e-4 / 7e-4 / 5e-3); with random weights all
20 scores lie within ~0.02 of each other and neighbouring heatmap cells differ by ~1e-4, so int8
activations legitimately move a few peaks to the next cell or past the top-20 cut: at least 80%
of the detections must match (measured 95-100%).
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core.errors import DataError, ExportError
from object_detection.export import litert_export

SIZES = [(64, 64), (48, 80)]  # the model's resizer makes both 64x64 inside the graph


@pytest.fixture(scope="module")
def reference(deployed):
  """SavedModel outputs for two images and two box prompts."""
  loaded = tf.saved_model.load(str(deployed / "saved_model"))
  rng = np.random.default_rng(0)
  images = [rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8) for h, w in SIZES]
  boxes = np.array([[[0.1, 0.2, 0.6, 0.7], [0.3, 0.0, 1.0, 0.8]]], np.float32)
  serving = [{k: v.numpy() for k, v in loaded.signatures["serving_default"](
      input_tensor=tf.constant(im)).items()} for im in images]
  prompted = [{k: v.numpy() for k, v in loaded.signatures["image_and_boxes"](
      input_tensor=tf.constant(im), boxes=tf.constant(boxes)).items()} for im in images]
  return images, boxes, serving, prompted


def _runner(deployed, quantization):
  return litert_export.LiteRTRunner(str(deployed / litert_export.file_name(quantization)))


def test_float32_matches_the_saved_model(deployed, reference):
  images, boxes, serving, prompted = reference
  runner = _runner(deployed, "none")
  for image, want, want_p in zip(images, serving, prompted):
    got = runner("serving_default", input_tensor=image)
    assert sorted(got) == sorted(want)
    for key in want:
      assert got[key].shape == want[key].shape and got[key].dtype == np.float32, key
      np.testing.assert_allclose(got[key], want[key], atol=1e-5, err_msg=key)
    got_p = runner("image_and_boxes", input_tensor=image, boxes=boxes)
    assert got_p["detection_masks"].shape == (1, 2, 8, 8)
    np.testing.assert_allclose(got_p["detection_masks"], want_p["detection_masks"], atol=1e-5)
    np.testing.assert_array_equal(got_p["detection_boxes"], boxes)


def test_signatures_and_inputs_as_the_saved_model(deployed):
  runner = _runner(deployed, "none")
  sigs = runner.signatures()
  assert sorted(sigs) == ["image_and_boxes", "serving_default"]
  assert sorted(sigs["serving_default"]["outputs"]) == [
      "detection_boxes", "detection_boxes_strided", "detection_classes", "detection_masks",
      "detection_multiclass_scores", "detection_scores", "num_detections"]
  (spec,) = runner.input_details("serving_default").values()
  assert spec["dtype"] == np.uint8
  assert list(spec["shape_signature"]) == [1, -1, -1, 3]
  with pytest.raises(ExportError, match="image_tensor.*expected one of"):
    runner("image_tensor", input_tensor=np.zeros([1, 8, 8, 3], np.uint8))


def _match(want, got):
  """For each reference detection, the same-class detection of `got` nearest in box; returns
  per-detection (box error, score error, mask error)."""
  errors = []
  for i in range(want["detection_scores"].shape[1]):
    same = np.flatnonzero(got["detection_classes"][0] == want["detection_classes"][0, i])
    if not same.size:
      errors.append((np.inf, np.inf, np.inf))
      continue
    dist = np.abs(got["detection_boxes"][0, same] - want["detection_boxes"][0, i]).max(-1)
    j = same[np.argmin(dist)]
    errors.append((dist.min(), abs(got["detection_scores"][0, j] - want["detection_scores"][0, i]),
                   np.abs(got["detection_masks"][0, j] - want["detection_masks"][0, i]).max()))
  return np.array(errors)


def test_float16_within_tolerance(deployed, reference):
  images, _, serving, _ = reference
  runner = _runner(deployed, "float16")
  for image, want in zip(images, serving):
    got = runner("serving_default", input_tensor=image)
    errors = _match(want, got)
    assert errors.max() < 2e-3, errors.max(axis=0)
    np.testing.assert_allclose(np.sort(got["detection_scores"]),
                               np.sort(want["detection_scores"]), atol=2e-3)


def test_dynamic_range_within_tolerance(deployed, reference):
  images, _, serving, _ = reference
  runner = _runner(deployed, "dynamic_range")
  for image, want in zip(images, serving):
    got = runner("serving_default", input_tensor=image)
    errors = _match(want, got)
    ok = (errors[:, 0] < 5e-3) & (errors[:, 1] < 5e-3) & (errors[:, 2] < 2e-2)
    assert ok.mean() >= 0.8, errors
    np.testing.assert_allclose(np.sort(got["detection_scores"]),
                               np.sort(want["detection_scores"]), atol=5e-3)


def test_quantized_files_are_smaller(deployed):
  sizes = {q: os.path.getsize(deployed / litert_export.file_name(q))
           for q in litert_export.QUANTIZATIONS}
  assert sizes["float16"] < 0.6 * sizes["none"]
  assert sizes["dynamic_range"] < 0.4 * sizes["none"]


def test_batch_of_two_is_refused(deployed):
  """The interpreter itself resizes [1, -1, -1, 3] to [2, 64, 64, 3] and returns the first
  image's detections only (batch-1 graph): LiteRTRunner refuses instead."""
  runner = _runner(deployed, "none")
  with pytest.raises(DataError, match=r"input_tensor: shape .*got \[2, 64, 64, 3\]; expected "
                                      r"\[1, -1, -1, 3\]"):
    runner("serving_default", input_tensor=np.zeros([2, 64, 64, 3], np.uint8))
  with pytest.raises(DataError, match="input_tensor: wrong dtype .*got float32; expected uint8"):
    runner("serving_default", input_tensor=np.zeros([1, 64, 64, 3], np.float32))
  with pytest.raises(DataError, match="image: not an input"):
    runner("serving_default", image=np.zeros([1, 64, 64, 3], np.uint8))


class _CropModule(tf.Module):
  @tf.function(input_signature=[tf.TensorSpec([1, None, None, 2], tf.float32, name="x")])
  def crop(self, x):
    return {"y": tf.image.crop_and_resize(x, [[0.0, 0.0, 1.0, 1.0]], [0], [4, 4])}


def test_ops_without_a_builtin_kernel_are_named(tmp_path):
  module = _CropModule()
  tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.crop})
  with pytest.raises(ExportError, match=r"sm: LiteRT cannot convert .*CropAndResize"):
    litert_export.convert_saved_model(str(tmp_path / "sm"), str(tmp_path / "m.tflite"))
  assert not os.path.exists(tmp_path / "m.tflite")
  with pytest.raises(ExportError, match=r"--quantization: .*got 'int4'"):
    litert_export.convert_saved_model(str(tmp_path / "sm"), str(tmp_path / "m.tflite"), "int4")
