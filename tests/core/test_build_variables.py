"""DetectionModel.build_variables: every variable made eagerly on a small input, and a model that
is first called inside a tf.function builds itself that way instead of inside the trace (where
Keras 3 would capture the initial values as graph constants and TF would trace twice)."""

import keras
import numpy as np
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.deepmac import tiny

D = fields.DetectionResultFields


def _deepmac(seed):
  keras.utils.set_random_seed(seed)
  return tiny.build_tiny_deepmac(num_classes=3, network_type="resnet4", num_init_channels=4,
                                 dim=4, pixel_embedding_dim=4, mask_size=8)


def _signature(model, directory):
  """(checkpoint key, shape) of every variable: what restoring a checkpoint depends on."""
  path = tf.train.Checkpoint(model=model).write(str(directory / "ckpt"))
  return sorted((name, tuple(shape)) for name, shape in tf.train.list_variables(path)
                if name.startswith("model/"))


def _const_elements(graph):
  return sum(int(np.prod(op.get_attr("value").tensor_shape.dim and
                         [d.size for d in op.get_attr("value").tensor_shape.dim] or [1]))
             for op in graph.get_operations() if op.type == "Const")


def test_build_variables_makes_the_variables_of_a_full_size_call(tmp_path):
  small = _deepmac(0)
  small.build_variables()
  full = _deepmac(0)
  full(tf.zeros([1, 64, 64, 3]), training=False)  # eager call at the model's own input size
  expected = _signature(full, tmp_path / "full")
  assert len(expected) > 50
  assert _signature(small, tmp_path / "small") == expected
  count = len(small.variables)
  small.build_variables()  # a second call creates nothing
  assert len(small.variables) == count


def test_first_call_inside_a_trace_builds_eagerly_first():
  images = tf.random.stateless_uniform([1, 64, 64, 3], seed=(1, 2), maxval=255.0)
  model = _deepmac(1)

  @tf.function
  def detect(x):
    return model(x, training=False)

  graph = detect.get_concrete_function(images).graph
  params = sum(int(np.prod(v.shape)) for v in model.variables)
  assert params > 10_000
  # The weights are read from variables, not baked into the graph as constants.
  assert _const_elements(graph) < params // 10
  traced = detect(images)
  eager = model(images, training=False)
  for key in (D.detection_boxes, D.detection_scores, D.detection_masks):
    np.testing.assert_allclose(traced[key].numpy(), eager[key].numpy(), atol=1e-5)
