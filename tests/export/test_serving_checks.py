"""Issue #15 inference failures, reproduced on the exported tiny model:
- a restored batch-1 signature given a batch of 2 ran it as a batch of 1 and dropped the second
  image silently (restored signature functions do not check shapes): now an error;
- every signature handles a batch of N or rejects N > 1 with a clear error;
- grayscale / RGBA inputs are converted (encoded images) or named in the error (tensors);
- `tf.saved_model.load(path)(input_tensor)` works, as in the original's tutorials.
"""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from object_detection.export import exporter_lib
from object_detection.export import signatures
from object_detection.training import testing


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_trained_model):
  root = tmp_path_factory.mktemp("serving")
  model = tiny_trained_model(seed=3)
  exporter_lib.export_model(model, str(root / "image"), "image_tensor")
  exporter_lib.export_model(model, str(root / "float"), "float_image_tensor")
  images = np.stack([e[0] for e in testing.synthetic_examples(2, seed=8)])
  return model, {name: tf.saved_model.load(str(root / name / "saved_model"))
                 for name in ("image", "float")}, images


def test_batch_of_two_to_a_batch_one_signature_is_an_error(exported):
  _, loaded, images = exported
  serving = loaded["image"].signatures["serving_default"]
  one = serving(input_tensor=tf.constant(images[:1]))
  assert one["detection_boxes"].shape[0] == 1
  with pytest.raises(tf.errors.InvalidArgumentError, match="takes one image \\(batch 1"):
    serving(input_tensor=tf.constant(images))
  prompted = loaded["image"].signatures["image_and_boxes"]
  with pytest.raises(tf.errors.InvalidArgumentError, match="takes one image"):
    prompted(input_tensor=tf.constant(images), boxes=tf.zeros([2, 1, 4]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="boxes: batch must be 1"):
    prompted(input_tensor=tf.constant(images[:1]), boxes=tf.zeros([2, 1, 4]))


def test_float_signature_runs_a_batch_of_n(exported):
  _, loaded, images = exported
  serving = loaded["float"].signatures["serving_default"]
  both = serving(input_tensor=tf.constant(images, tf.float32))
  for i in range(2):
    single = serving(input_tensor=tf.constant(images[i:i + 1], tf.float32))
    for key, value in single.items():
      assert both[key].shape[0] == 2
      np.testing.assert_allclose(both[key][i:i + 1], value, atol=1e-6, err_msg=key)
  assert not np.allclose(both["detection_boxes"][0], both["detection_boxes"][1])


def test_images_without_three_channels_are_named(exported):
  _, loaded, images = exported
  rgba = np.concatenate([images[:1], np.full_like(images[:1, ..., :1], 255)], axis=-1)
  with pytest.raises(tf.errors.InvalidArgumentError, match="must have 3 channels"):
    loaded["image"].signatures["serving_default"](input_tensor=tf.constant(rgba))
  with pytest.raises(tf.errors.InvalidArgumentError, match="must have 3 channels"):
    loaded["float"].signatures["serving_default"](
        input_tensor=tf.constant(images[:1, ..., :1], tf.float32))


def _png(array, mode):
  buf = io.BytesIO()
  Image.fromarray(array, mode=mode).save(buf, format="PNG")
  return buf.getvalue()


def test_encoded_grayscale_and_rgba_are_converted(exported):
  model, _, images = exported
  gray = images[0].max(axis=-1)
  rgb = np.repeat(gray[..., None], 3, axis=-1)
  rgba = np.concatenate([images[0], np.full_like(images[0][..., :1], 128)], axis=-1)
  module = signatures.DetectionModule(model)
  encoded = module.serving_fn("encoded_image_string_tensor")
  tensor = module.serving_fn("image_tensor")
  for png, same_as in ((_png(gray, "L"), rgb), (_png(rgba, "RGBA"), images[0])):
    got = encoded(tf.constant([png]))
    want = tensor(tf.constant(same_as[None]))
    for key in ("detection_boxes", "detection_scores", "detection_masks"):
      np.testing.assert_allclose(got[key], want[key], atol=1e-6, err_msg=key)


def test_loaded_saved_model_is_callable(exported):
  _, loaded, images = exported
  detect_fn = loaded["image"]
  got = detect_fn(tf.constant(images[:1]))
  want = detect_fn.signatures["serving_default"](input_tensor=tf.constant(images[:1]))
  assert sorted(got) == sorted(want)
  for key in want:
    np.testing.assert_array_equal(got[key], want[key])
