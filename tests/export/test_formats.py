"""--output_format / --tflite_quantization parsing and the files each writes (exporter_main_v2's
run lives in conftest.deployed; the standalone converter runs here on a 2-op SavedModel)."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection import exporter_main_v2
from object_detection.core.errors import ConfigError, ExportError
from object_detection.export import formats
from object_detection.export import litert_export
from object_detection.export import onnx_export


def test_exporter_wrote_every_format(deployed):
  names = sorted(p.name for p in deployed.iterdir())
  assert names == ["checkpoint", "image_and_boxes.onnx", "model.onnx", "model.tflite",
                   "model_dynamic_range.tflite", "model_float16.tflite", "pipeline.config",
                   "saved_model"]


def test_bad_flags_are_named():
  assert formats.parse_formats("tflite, onnx,tflite") == ["tflite", "onnx"]
  with pytest.raises(ConfigError, match=r"--output_format: unknown value \(got 'tflight'.*"
                                        r"did you mean \"tflite\""):
    formats.parse_formats("saved_model,tflight")
  with pytest.raises(ConfigError, match="--tflite_quantization: unknown value .*'int8'"):
    formats.parse_quantizations("int8")
  with pytest.raises(ConfigError, match="--output_format: empty"):
    formats.parse_formats(",")
  with pytest.raises(ConfigError, match="--output_format=onnx: needs an image input .*"
                                        "--input_type=tf_example"):
    formats.check_input_type("tf_example", ["saved_model", "onnx"])
  formats.check_input_type("tf_example", ["saved_model"])
  with pytest.raises(ConfigError, match="--output_format=tflite: needs an image input"):
    exporter_main_v2.main(["--input_type=encoded_image_string_tensor",
                           "--pipeline_config_path=unused.config", "--trained_checkpoint_dir=x",
                           "--output_directory=y", "--output_format=tflite"])
  with pytest.raises(ConfigError, match="--output_format=onnx: needs a float32 SavedModel .*"
                                        "--use_bfloat16"):
    exporter_main_v2.main(["--input_type=image_tensor", "--use_bfloat16",
                           "--pipeline_config_path=unused.config", "--trained_checkpoint_dir=x",
                           "--output_directory=y", "--output_format=saved_model,onnx"])


class _Scale(tf.Module):
  def __init__(self):
    super().__init__()
    self.w = tf.Variable([0.5, 1.0, 2.0])

  @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8,
                                              name="input_tensor")])
  def image(self, input_tensor):
    return {"out": tf.reduce_mean(tf.cast(input_tensor, tf.float32) * self.w, axis=[1, 2])}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="input_tensor")])
  def encoded(self, input_tensor):
    return {"out": tf.strings.length(input_tensor)}


def test_standalone_converter_writes_tflite_and_onnx(tmp_path):
  module = _Scale()
  tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.image})
  assert formats.main([f"--saved_model_dir={tmp_path / 'sm'}", f"--output_directory={tmp_path}",
                       "--output_format=tflite,onnx", "--tflite_quantization=none"]) == 0
  image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape([1, 2, 3, 3])
  want = module.image(tf.constant(image))["out"].numpy()
  got_tflite = litert_export.LiteRTRunner(str(tmp_path / "model.tflite"))(input_tensor=image)
  got_onnx = onnx_export.OnnxRunner(str(tmp_path / "model.onnx"))(input_tensor=image)
  np.testing.assert_allclose(got_tflite["out"], want, rtol=1e-6)
  np.testing.assert_allclose(got_onnx["out"], want, rtol=1e-6)

  tf.saved_model.save(module, str(tmp_path / "sm2"),
                      signatures={"serving_default": module.encoded})
  with pytest.raises(ExportError, match="sm2: serving_default input 'input_tensor' is a string "
                                        "tensor"):
    formats.write_formats(str(tmp_path / "sm2"), str(tmp_path / "o2"), ["onnx"])
