"""hyperparams_builder: initializers, regularizers, batch norm, activation, layer helpers."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import hyperparams_builder
from object_detection.core import layer_hyperparams
from object_detection.core.errors import ConfigError
from object_detection.protos import hyperparams_pb2

# first_stage_box_predictor_conv_hyperparams of the reference Faster R-CNN config.
REFERENCE_CONV = """
  op: CONV
  regularizer { l2_regularizer { weight: 0.0 } }
  initializer { truncated_normal_initializer { stddev: 0.01 } }
"""


def _build(text):
  return hyperparams_builder.build(text_format.Parse(text, hyperparams_pb2.Hyperparams()))


def test_reference_conv_hyperparams():
  hp = _build(REFERENCE_CONV)
  assert hp.activation == "relu"
  assert hp.batch_norm is None and hp.use_bias
  kwargs = hp.layer_kwargs()
  assert isinstance(kwargs["kernel_initializer"], keras.initializers.TruncatedNormal)
  assert kwargs["kernel_initializer"].get_config()["stddev"] == pytest.approx(0.01)
  assert kwargs["kernel_regularizer"].get_config()["l2"] == 0.0
  assert kwargs["activation"] is None and kwargs["use_bias"] is True


def test_l2_regularizer_is_half_the_weight():
  hp = _build("regularizer { l2_regularizer { weight: 0.0004 } } "
              "initializer { random_normal_initializer { mean: 1 stddev: 2 } }")
  regularizer = hp.layer_kwargs()["kernel_regularizer"]
  assert regularizer.get_config()["l2"] == pytest.approx(0.0002)
  # The slim value: weight * sum(x^2) / 2 = 0.0004 * (1 + 4 + 9) / 2.
  np.testing.assert_allclose(float(regularizer(tf.constant([1.0, 2.0, 3.0]))), 0.0028,
                             rtol=1e-5)
  init = hp.layer_kwargs()["kernel_initializer"]
  assert isinstance(init, keras.initializers.RandomNormal)
  assert (init.get_config()["mean"], init.get_config()["stddev"]) == (1.0, 2.0)


def test_l1_regularizer():
  hp = _build("regularizer { l1_regularizer { weight: 0.5 } } "
              "initializer { keras_initializer_by_name: 'glorot_uniform' }")
  np.testing.assert_allclose(float(hp.layer_kwargs()["kernel_regularizer"](
      tf.constant([1.0, -2.0]))), 1.5, rtol=1e-6)
  assert isinstance(hp.layer_kwargs()["kernel_initializer"], keras.initializers.GlorotUniform)


@pytest.mark.parametrize("text, mode, distribution", [
    ("factor: 1.0 uniform: true mode: FAN_AVG", "fan_avg", "uniform"),
    ("", "fan_in", "truncated_normal"),
    ("mode: FAN_OUT", "fan_out", "truncated_normal"),
])
def test_variance_scaling(text, mode, distribution):
  hp = _build(f"initializer {{ variance_scaling_initializer {{ {text} }} }}")
  config = hp.layer_kwargs()["kernel_initializer"].get_config()
  assert (config["mode"], config["distribution"]) == (mode, distribution)
  assert config["scale"] == (1.0 if "factor" in text else 2.0)


def test_variance_scaling_statistics_match_slim():
  # slim: uniform limit sqrt(3 * factor / fan_in); fan_in = 3 * 3 * 64 = 576.
  hp = _build("initializer { variance_scaling_initializer { factor: 2.0 uniform: true } }")
  kernel = hp.layer_kwargs()["kernel_initializer"]([3, 3, 64, 64]).numpy()
  limit = np.sqrt(3 * 2.0 / 576)
  assert np.abs(kernel).max() <= limit
  assert np.abs(kernel).max() > 0.95 * limit


def test_fresh_initializer_per_layer():
  hp = _build(REFERENCE_CONV)
  a = keras.layers.Conv2D(4, 3, **hp.layer_kwargs())
  b = keras.layers.Conv2D(4, 3, **hp.layer_kwargs())
  a.build((None, 8, 8, 2))
  b.build((None, 8, 8, 2))
  assert not np.allclose(a.kernel.numpy(), b.kernel.numpy())


def test_batch_norm_params_and_bias():
  hp = _build(REFERENCE_CONV + "batch_norm { decay: 0.9 epsilon: 0.01 scale: true }")
  assert hp.batch_norm == layer_hyperparams.BatchNormParams(
      momentum=pytest.approx(0.9), epsilon=pytest.approx(0.01), center=True, scale=True,
      train=True, synchronized=False)
  assert not hp.use_bias  # centred batch norm follows
  bn = hp.build_normalization(name="bn")
  assert isinstance(bn, keras.layers.BatchNormalization)
  assert bn.momentum == pytest.approx(0.9) and bn.epsilon == pytest.approx(0.01)
  assert bn.scale and bn.center and bn.trainable


def test_force_use_bias_and_uncentred_batch_norm():
  assert _build(REFERENCE_CONV + "batch_norm {} force_use_bias: true").use_bias
  assert _build(REFERENCE_CONV + "batch_norm { center: false }").use_bias


def test_sync_batch_norm_and_frozen_batch_norm():
  hp = _build(REFERENCE_CONV + "sync_batch_norm { train: false }")
  assert hp.batch_norm.synchronized
  bn = hp.build_normalization()
  assert bn.synchronized and not bn.trainable


@pytest.mark.parametrize("activation, expected", [
    ("NONE", [-1.0, 0.5, 8.0]), ("RELU", [0.0, 0.5, 8.0]), ("RELU_6", [0.0, 0.5, 6.0]),
    ("SWISH", [-1.0 / (1.0 + np.e), 0.5 / (1.0 + np.exp(-0.5)), 8.0 / (1.0 + np.exp(-8.0))]),
])
def test_activations(activation, expected):
  hp = _build(REFERENCE_CONV + f"activation: {activation}")
  layer = hp.build_activation()
  np.testing.assert_allclose(layer(tf.constant([-1.0, 0.5, 8.0])).numpy(), expected, rtol=1e-5)
  assert hp.activation == (None if activation == "NONE" else {
      "RELU": "relu", "RELU_6": "relu6", "SWISH": "swish"}[activation])


@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_conv_block(mode):
  hp = _build("initializer { truncated_normal_initializer { stddev: 0.01 } } "
              "batch_norm { scale: true } activation: RELU_6")
  block = hp.conv_block(8, 3, strides=2, name="block")
  images = tf.random.uniform([2, 16, 16, 3])
  call = block if mode == "eager" else tf.function(block)
  out = call(images, training=True)
  assert out.shape == (2, 8, 8, 8)
  assert float(tf.reduce_max(out)) <= 6.0 and float(tf.reduce_min(out)) >= 0.0
  assert block.conv.bias is None  # the centred batch norm carries the offset
  # conv kernel + BN gamma/beta trainable; moving mean/var not.
  assert len(block.trainable_weights) == 3 and len(block.non_trainable_weights) == 2


@pytest.mark.parametrize("text, message", [
    ("op: CONV", r"^hyperparams\.initializer: no initializer set \(got nothing; expected one of"),
    ("initializer { keras_initializer_by_name: 'glorot_unifrom' }",
     r"keras_initializer_by_name: unknown Keras initializer \(got 'glorot_unifrom'"),
    (REFERENCE_CONV + "group_norm {}", r"^hyperparams\.group_norm: group normalization is not "
     r"supported"),
    (REFERENCE_CONV + "batch_norm { decay: 1.5 }", r"batch_norm\.decay: out of range"),
])
def test_errors(text, message):
  with pytest.raises(ConfigError, match=message):
    _build(text)


def test_wrong_message_type():
  with pytest.raises(ConfigError, match=r"^fc: wrong message type \(got object_detection.protos."
                     r"BatchNorm; expected object_detection.protos.Hyperparams\)"):
    hyperparams_builder.build(hyperparams_pb2.BatchNorm(), field_path="fc")


@pytest.mark.parametrize("name", ["faster_rcnn_resnet50_v1_640x640_coco17_tpu-8.config",
                                  "mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8.config"])
def test_reference_config_hyperparams_build(name, shared_dir):
  from object_detection.protos import pipeline_pb2  # pylint: disable=import-outside-toplevel
  config = text_format.Parse((shared_dir / "reference_configs" / name).read_text(),
                             pipeline_pb2.TrainEvalPipelineConfig())
  frcnn = config.model.faster_rcnn
  rpn = hyperparams_builder.build(frcnn.first_stage_box_predictor_conv_hyperparams)
  assert rpn.initializer.name == "TruncatedNormal"
  predictor = frcnn.second_stage_box_predictor.mask_rcnn_box_predictor
  fc = hyperparams_builder.build(predictor.fc_hyperparams)
  assert fc.initializer.name == "VarianceScaling"
  assert dict(fc.initializer.config)["mode"] == "fan_avg"
  if predictor.HasField("conv_hyperparams"):
    assert hyperparams_builder.build(predictor.conv_hyperparams).batch_norm is None


def test_unset_message_gives_the_default():
  default = layer_hyperparams.LayerHyperparams(activation=None)
  assert hyperparams_builder.build(hyperparams_pb2.Hyperparams(), default=default) is default
  assert hyperparams_builder.build(text_format.Parse(REFERENCE_CONV, hyperparams_pb2.Hyperparams()),
                                   default=default).activation == "relu"
  with pytest.raises(ConfigError, match="no initializer set"):
    hyperparams_builder.build(hyperparams_pb2.Hyperparams())
