"""One export of the tiny DeepMAC config in every format, shared by the export tests.

`deployed` runs exporter_main_v2 once per test session with
--output_format=saved_model,tflite,onnx and every LiteRT quantization, on a checkpoint of
configs/tf2/center_net_deepmac_hourglass10_128x128_shapes_cpu.config at 64x64 (hourglass_10
backbone, hourglass10 mask head, 8x8 masks, 20 detections; seeded random weights). Under
pytest-xdist the workers share one export through a lock file, so the conversions run once.
"""

import fcntl
import os

import keras
import pytest
import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "configs", "tf2",
                      "center_net_deepmac_hourglass10_128x128_shapes_cpu.config")
SMALL = ["model.center_net.image_resizer.fixed_shape_resizer.height=64",
         "model.center_net.image_resizer.fixed_shape_resizer.width=64",
         "model.center_net.deepmac_mask_estimation.mask_size=8",
         "model.center_net.deepmac_mask_estimation.num_init_channels=8"]


def _export(root):
  from object_detection import exporter_main_v2  # pylint: disable=import-outside-toplevel
  from object_detection.builders import model_builder  # pylint: disable=import-outside-toplevel
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  keras.utils.set_random_seed(5)
  pipeline = loader.load_pipeline_config(CONFIG, overrides=SMALL)
  model = model_builder.build(pipeline.model, is_training=False)
  pre, shapes = model.preprocess(tf.zeros([1, 64, 64, 3]))
  model.postprocess(model.predict(pre, shapes), shapes)
  tf.train.CheckpointManager(tf.train.Checkpoint(step=tf.Variable(1, dtype=tf.int64),
                                                 model=model),
                             os.path.join(root, "train"), 1).save(checkpoint_number=1)
  assert exporter_main_v2.main([
      "--input_type=image_tensor", f"--pipeline_config_path={CONFIG}",
      f"--trained_checkpoint_dir={os.path.join(root, 'train')}",
      f"--output_directory={os.path.join(root, 'out')}",
      "--output_format=saved_model,tflite,onnx",
      "--tflite_quantization=none,float16,dynamic_range"] + SMALL) == 0


@pytest.fixture(scope="session")
def tiny_trained_model():
  """-> make(seed): a built testing.TinyCenterModel(seed) with every trainable variable moved
  by +0.05 from its initial value (non-trivial weights for export / checkpoint round trips)."""
  from object_detection.training import testing  # pylint: disable=import-outside-toplevel

  def make(seed):
    model = testing.TinyCenterModel(seed=seed)
    model(tf.zeros([1, 64, 64, 3]))
    for v in model.trainable_variables:
      v.assign(v + 0.05)
    return model
  return make


@pytest.fixture(scope="session")
def deployed(tmp_path_factory, worker_id):
  """-> the exporter's output directory (saved_model/, model*.tflite, *.onnx)."""
  base = tmp_path_factory.getbasetemp()
  if worker_id != "master":
    base = base.parent  # shared by the xdist workers of this session
  root = base / "deepmac_deployed"
  with open(base / "deepmac_deployed.lock", "w", encoding="utf-8") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not (root / "done").exists():
      root.mkdir(exist_ok=True)
      _export(str(root))
      (root / "done").write_text("ok")
  return root / "out"
