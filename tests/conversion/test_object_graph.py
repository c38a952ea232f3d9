"""Our checkpoint keys computed from the object graph equal what tf.train.Checkpoint writes."""

import tensorflow as tf

from object_detection.conversion import object_graph
from object_detection.training import testing


def test_keys_equal_the_written_checkpoint(tmp_path):
  model = testing.TinyCenterModel(seed=1)
  model(tf.zeros([1, 64, 64, 3]))
  roots = {"model": model, "step": tf.Variable(3, dtype=tf.int64)}
  computed = object_graph.variables_by_key(roots)
  path = tf.train.Checkpoint(**roots).write(str(tmp_path / "ckpt"))
  written = {object_graph.short_key(k) for k, _ in tf.train.list_variables(path)
             if k.endswith(object_graph.VALUE_SUFFIX)}
  assert set(computed) == written - {"save_counter"} and "step" in computed
  assert len(computed) == len(model.variables) + 1


def test_canonical_key_spells_kernels_as_keras2():
  suffix = object_graph.VALUE_SUFFIX
  assert object_graph.canonical_key(f"model/head/convs/0/_kernel{suffix}") == \
      "model/head/convs/0/kernel"
  assert object_graph.canonical_key("model/head/norm/gamma") == "model/head/norm/gamma"
  assert object_graph.escape("box/offset") == "box.Soffset"
  assert object_graph.escape("a.b") == "a..b"
