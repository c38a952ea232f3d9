"""deepmac-infer / Detector on the shared tiny DeepMAC export: the three runtimes agree, grayscale
and RGBA images are converted, and a bad file is reported and skipped while the others are
written (issue #15: it used to stop at the first unreadable file and write nothing)."""

import json

import numpy as np
import pytest
from PIL import Image

from object_detection import inference
from object_detection.core.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def image():
  return np.random.default_rng(3).integers(0, 256, (48, 80, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def detectors(deployed):
  return {runtime: inference.Detector(str(deployed), runtime) for runtime in inference.RUNTIMES}


def test_runtimes_give_the_same_detections(detectors, image):
  want = detectors["tensorflow"](image)
  assert want["masks"].shape == (len(want["scores"]), 48, 80)
  for runtime in ("onnx", "litert"):
    got = detectors[runtime](image)
    np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-5, err_msg=runtime)
    np.testing.assert_allclose(got["boxes"], want["boxes"], atol=1e-5, err_msg=runtime)
    np.testing.assert_array_equal(got["classes"], want["classes"])
    # Binary masks: a pixel whose probability sits within 1e-5 of 0.5 may flip.
    assert np.mean(got["masks"] != want["masks"]) < 1e-3, runtime


def test_grayscale_and_rgba_arrays_are_converted(detectors, image):
  detector = detectors["tensorflow"]
  gray = image[..., 0]
  want = detector(np.repeat(gray[..., None], 3, axis=-1))
  for variant in (gray, gray[..., None]):
    np.testing.assert_array_equal(detector(variant)["scores"], want["scores"])
  rgba = np.concatenate([image, np.zeros_like(image[..., :1])], axis=-1)
  np.testing.assert_array_equal(detector(rgba)["scores"], detector(image)["scores"])
  with pytest.raises(DataError, match=r"image: not an image \(got shape \[48, 80, 2\]"):
    detector(image[..., :2])
  with pytest.raises(DataError, match="image: pixel type float32"):
    detector(image.astype(np.float32))


def test_missing_runtime_file_is_named(tmp_path):
  with pytest.raises(ConfigError, match=r"no onnx model .*model.onnx"):
    inference.Detector(str(tmp_path), "onnx")
  with pytest.raises(ConfigError, match="--runtime: unknown runtime"):
    inference.Detector(str(tmp_path), "tensorrt")


def test_bad_files_are_reported_and_skipped(deployed, image, tmp_path, capsys):
  photos = tmp_path / "photos"
  photos.mkdir()
  Image.fromarray(image).save(photos / "a.png")
  (photos / "b.jpg").write_bytes(b"not a jpeg")
  Image.fromarray(image[..., 0]).save(photos / "c.png")          # grayscale file
  truncated = (photos / "a.png").read_bytes()
  (photos / "d.png").write_bytes(truncated[:len(truncated) // 2])
  out = tmp_path / "out"
  code = inference.main([f"--exported_dir={deployed}", "--images", f"{photos}/*",
                         str(tmp_path / "missing.png"), f"--output_dir={out}",
                         "--min_score_thresh=0", "--runtime=onnx"])
  assert code == 1
  err = capsys.readouterr().err
  for name in ("b.jpg", "d.png", "missing.png"):
    assert f"skipped {tmp_path}" in err and name in err, name
  skipped = json.loads((out / "skipped.json").read_text())
  assert sorted(s["file"].rsplit("/", 1)[-1] for s in skipped) == ["b.jpg", "d.png",
                                                                   "missing.png"]
  assert all("cannot read the image" in s["error"] or "no such file" in s["error"]
             for s in skipped)
  results = json.loads((out / "detections.json").read_text())
  assert sorted({r["image_id"] for r in results}) == ["a", "c"]
  assert (out / "a.png").exists() and (out / "c.png").exists()
  # A clean rerun removes the stale skipped.json.
  assert inference.main([f"--exported_dir={deployed}", f"--images={photos}/a.png",
                         f"--output_dir={out}", "--runtime=litert"]) == 0
  assert not (out / "skipped.json").exists()
