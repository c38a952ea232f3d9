"""The command lines of the original's model_main_tf2.py docstring run unchanged, in a fresh
process as a user types them (`python object_detection/model_main_tf2.py ... --alsologtostderr`),
and a CPU run prints none of TensorFlow's start-up noise. Then eval keeps the best checkpoint
(--keep_best_metric) and exporter_main_v2 exports it from MODEL_DIR/best."""

import json
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from object_detection import demo
from object_detection import exporter_main_v2
from object_detection import model_main_tf2
from object_detection.config import loader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join("object_detection", "model_main_tf2.py")
SMALL = ["model.center_net.image_resizer.fixed_shape_resizer.height=64",
         "model.center_net.image_resizer.fixed_shape_resizer.width=64",
         "model.center_net.deepmac_mask_estimation.mask_size=8",
         "model.center_net.deepmac_mask_estimation.num_init_channels=8",
         "train_config.batch_size=2", "train_config.num_steps=2"]
NOISE = re.compile(r"cuInit|cuda|oneDNN|absl::InitializeLog|Sharding callback|^[IWE]\d{4} ",
                   re.I | re.M)


def _run(args, tmp_path):
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = REPO
  proc = subprocess.run([sys.executable, SCRIPT] + args, cwd=REPO, capture_output=True,
                        text=True, timeout=900, env=env)
  (tmp_path / "stderr.txt").write_text(proc.stderr)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert not NOISE.search(proc.stderr), NOISE.search(proc.stderr).group(0) + proc.stderr[-3000:]
  return proc


@pytest.mark.slow
def test_docstring_train_then_eval(tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  (data / "label_map.pbtxt").write_text(demo.LABEL_MAP)
  demo.write_dataset(str(data / "train.tfrecord"), 4, seed=0)
  demo.write_dataset(str(data / "val.tfrecord"), 2, seed=1)
  config = demo.make_pipeline_config(str(data), str(tmp_path / "demo.config"))
  pipeline = loader.load_pipeline_config(config, overrides=SMALL)
  config = loader.save_pipeline_config(pipeline, tmp_path, "pipeline.config")
  model_dir = str(tmp_path / "model")

  # MODEL_DIR, NUM_TRAIN_STEPS, SAMPLE_1_OF_N_EVAL_EXAMPLES, PIPELINE_CONFIG_PATH of the doc.
  _run([f"--model_dir={model_dir}", "--num_train_steps=2", "--sample_1_of_n_eval_examples=1",
        f"--pipeline_config_path={config}", "--alsologtostderr"], tmp_path)
  assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-2")

  # The eval form: waits for checkpoints, stops after the one at train_config.num_steps.
  proc = _run([f"--model_dir={model_dir}", f"--pipeline_config_path={config}",
               f"--checkpoint_dir={model_dir}", "--alsologtostderr"], tmp_path)
  metrics = json.loads(open(os.path.join(model_dir, "eval", "metrics.json")).read())
  assert metrics["step"] == 2 and "DetectionMasks_Precision/mAP" in metrics["metrics"]
  assert "eval at step 2" in proc.stdout

  # Keep the best checkpoint by the eval loss, then export it on demand.
  assert model_main_tf2.main([f"--model_dir={model_dir}", f"--pipeline_config_path={config}",
                              f"--checkpoint_dir={model_dir}", "--eval_timeout=0",
                              "--keep_best_metric=Loss/total_loss"]) == 0
  best = json.loads(open(os.path.join(model_dir, "best", "best.json")).read())
  assert best["step"] == 2 and best["mode"] == "min" and best["checkpoint"] == "ckpt-2"
  assert best["value"] == json.loads(open(os.path.join(model_dir, "eval", "metrics.json")).read())[
      "metrics"]["Loss/total_loss"]
  out = str(tmp_path / "exported")
  assert exporter_main_v2.main([
      "--input_type=image_tensor", f"--pipeline_config_path={config}",
      f"--trained_checkpoint_dir={model_dir}/best", f"--output_directory={out}"]) == 0
  assert os.path.exists(os.path.join(out, "saved_model", "saved_model.pb"))
