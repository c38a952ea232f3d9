"""ONNX export of the tiny DeepMAC config (tf2onnx, opset 17), run by ONNX Runtime against the
SavedModel. Tolerance 1e-5 on every output (measured <= 1e-6: float32 kernels of another
library, other summation orders)."""

import onnx
import numpy as np
import pytest
import tensorflow as tf

from object_detection.core.errors import DataError, ExportError
from object_detection.export import onnx_export

SIZES = [(64, 64), (48, 80)]


@pytest.fixture(scope="module")
def loaded(deployed):
  return tf.saved_model.load(str(deployed / "saved_model"))


def test_serving_default_matches_the_saved_model(deployed, loaded):
  runner = onnx_export.OnnxRunner(str(deployed / "model.onnx"))
  assert runner.input_details() == {"input_tensor": ([1, None, None, 3], "tensor(uint8)")}
  rng = np.random.default_rng(1)
  for h, w in SIZES:
    image = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    want = {k: v.numpy() for k, v in loaded.signatures["serving_default"](
        input_tensor=tf.constant(image)).items()}
    got = runner(input_tensor=image)
    assert sorted(got) == sorted(want)
    for key in want:
      assert got[key].shape == want[key].shape and got[key].dtype == np.float32, key
      np.testing.assert_allclose(got[key], want[key], atol=1e-5, err_msg=key)


def test_box_prompted_signature_matches_the_saved_model(deployed, loaded):
  runner = onnx_export.OnnxRunner(str(deployed / "image_and_boxes.onnx"))
  assert sorted(runner.input_names) == ["boxes", "input_tensor"]
  image = np.random.default_rng(2).integers(0, 256, (1, 48, 80, 3), dtype=np.uint8)
  boxes = np.array([[[0.0, 0.0, 0.5, 0.5], [0.2, 0.3, 0.9, 1.0], [0.4, 0.4, 0.6, 0.6]]],
                   np.float32)
  want = loaded.signatures["image_and_boxes"](input_tensor=tf.constant(image),
                                              boxes=tf.constant(boxes))
  got = runner(input_tensor=image, boxes=boxes)
  assert got["detection_masks"].shape == (1, 3, 8, 8)
  np.testing.assert_allclose(got["detection_masks"], want["detection_masks"], atol=1e-5)


def test_batch_of_two_is_refused_by_the_runtime(deployed):
  runner = onnx_export.OnnxRunner(str(deployed / "model.onnx"))
  batch2 = np.zeros([2, 64, 64, 3], np.uint8)
  with pytest.raises(DataError, match=r"input_tensor: shape .*got \[2, 64, 64, 3\]"):
    runner(input_tensor=batch2)
  # ONNX Runtime's own check, without OnnxRunner's:
  with pytest.raises(Exception, match="(?s)input_tensor.*index: 0 Got: 2 Expected: 1"):
    runner._session.run(None, {"input_tensor": batch2})
  with pytest.raises(DataError, match="image: not an input"):
    runner(image=np.zeros([1, 64, 64, 3], np.uint8))
  with pytest.raises(DataError, match="wrong dtype .*got float32; expected uint8"):
    runner(input_tensor=np.zeros([1, 64, 64, 3], np.float32))


def test_ops_outside_onnx_are_named(tmp_path):
  graph = onnx.helper.make_graph(
      [onnx.helper.make_node("Relu", ["x"], ["y"]),
       onnx.helper.make_node("CropAndResize", ["y"], ["z"])], "g",
      [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
      [onnx.helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [1])])
  assert onnx_export._foreign_ops(onnx.helper.make_model(graph)) == ["CropAndResize"]

  class Decode(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="input_tensor")])
    def fn(self, input_tensor):
      images = tf.map_fn(lambda s: tf.io.decode_image(s, 3, expand_animations=False),
                         input_tensor, fn_output_signature=tf.uint8)
      return {"y": tf.reduce_sum(tf.cast(images, tf.float32), axis=[1, 2, 3])}
  module = Decode()
  tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.fn})
  with pytest.raises(ExportError, match=r"sm: ONNX export .*got DecodeImage"):
    onnx_export.convert_saved_model(str(tmp_path / "sm"), str(tmp_path / "m.onnx"))
  with pytest.raises(ExportError, match=r"no signature 'image_and_boxes'"):
    onnx_export.convert_saved_model(str(tmp_path / "sm"), str(tmp_path / "m.onnx"),
                                    "image_and_boxes")
  assert not (tmp_path / "m.onnx").exists()
  with pytest.raises(ExportError, match=r"missing: not a SavedModel directory"):
    onnx_export.convert_saved_model(str(tmp_path / "missing"), str(tmp_path / "m.onnx"))
