"""The checkpoint keys of a DeepMAC model built from a config (the demo config, at 64x64).

A converter from the original's checkpoints is written against these names (the Keras attribute
paths under `tf.train.Checkpoint(model=...)`): a refactor that renames an attribute breaks it.
"""

import pathlib

import pytest
import tensorflow as tf

from object_detection.builders import model_builder
from object_detection.config import loader

DEMO = (pathlib.Path(__file__).resolve().parents[3] / "configs" / "tf2" /
        "center_net_deepmac_hourglass10_128x128_shapes_cpu.config")
SMALL = ["model.center_net.image_resizer.fixed_shape_resizer.height=64",
         "model.center_net.image_resizer.fixed_shape_resizer.width=64"]
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# Representative keys (without SUFFIX) and shapes: backbone, both CenterNet tasks, the DeepMAC
# embedding heads, its mask network and 1x1 projection, the training-step counter.
PINNED = {
    "model/_feature_extractor/_network/downsample_input/conv_block/conv/_kernel": [7, 7, 3, 32],
    "model/_feature_extractor/_network/hourglass_network/0/inner_block/0/norm/moving_mean": [64],
    "model/_tasks/0/center_heads/0/convs/0/_kernel": [3, 3, 64, 256],
    "model/_tasks/0/center_heads/0/out_conv/bias": [3],
    "model/_tasks/1/scale_heads/0/out_conv/_kernel": [1, 1, 256, 2],
    "model/_tasks/1/offset_heads/0/convs/0/bias": [256],
    "model/_deepmac_task/instance_heads/0/convs/0/_kernel": [1, 3, 64, 256],
    "model/_deepmac_task/instance_heads/0/out_conv/_kernel": [1, 1, 256, 16],
    "model/_deepmac_task/pixel_heads/0/out_conv/bias": [8],
    "model/_deepmac_task/mask_net/net/conv_input/conv_block/conv/_kernel": [3, 3, 26, 16],
    "model/_deepmac_task/mask_net/net/output_conv/0/norm/moving_variance": [32],
    "model/_deepmac_task/mask_net/project_out/_kernel": [1, 1, 32, 1],
    "model/training_step": [],
}
# Variables per top-level attribute of the model.
COUNTS = {"_feature_extractor": 70, "_tasks": 12, "_deepmac_task": 80, "training_step": 1}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
  pipeline = loader.load_pipeline_config(DEMO, overrides=SMALL)
  model = model_builder.build(pipeline.model, is_training=True)
  model(tf.zeros([1, 64, 64, 3]))   # creates every variable
  path = tf.train.Checkpoint(model=model).save(str(tmp_path_factory.mktemp("ckpt") / "ckpt"))
  return {name[:-len(SUFFIX)]: shape for name, shape in tf.train.list_variables(path)
          if name.startswith("model/") and name.endswith(SUFFIX)}


def test_pinned_keys_and_shapes(keys):
  assert {key: keys.get(key) for key in PINNED} == PINNED


def test_variables_per_part(keys):
  counts = {}
  for key in keys:
    part = key.split("/")[1]
    counts[part] = counts.get(part, 0) + 1
  assert counts == COUNTS
