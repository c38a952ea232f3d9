"""End to end with the real DeepMAC model: TFRecords -> model_main_tf2 train (2 steps) ->
checkpoint -> eval (box + mask metrics, seen/novel split) -> exporter_main_v2 -> the SavedModel
loaded in a fresh process gives the detections of the checkpoint."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from object_detection import demo
from object_detection import exporter_main_v2
from object_detection import model_main_tf2
from object_detection.builders import model_builder
from object_detection.config import loader
from object_detection.export import exporter_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["model.center_net.image_resizer.fixed_shape_resizer.height=64",
         "model.center_net.image_resizer.fixed_shape_resizer.width=64",
         "model.center_net.deepmac_mask_estimation.mask_size=8",
         "model.center_net.deepmac_mask_estimation.num_init_channels=8",
         "train_config.batch_size=2"]


@pytest.mark.slow
def test_train_eval_export_reload(tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  (data / "label_map.pbtxt").write_text(demo.LABEL_MAP)
  demo.write_dataset(str(data / "train.tfrecord"), 4, seed=0)
  demo.write_dataset(str(data / "val.tfrecord"), 2, seed=1, image_dir=str(data / "val_images"))
  config = demo.make_pipeline_config(str(data), str(tmp_path / "pipeline.config"))
  model_dir = str(tmp_path / "model")

  assert model_main_tf2.main([f"--pipeline_config_path={config}", f"--model_dir={model_dir}",
                              "--num_train_steps=2", "--checkpoint_every_n=2"] + SMALL) == 0
  assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-2")
  assert os.path.exists(os.path.join(model_dir, "pipeline.config"))

  assert model_main_tf2.main([f"--pipeline_config_path={config}", f"--model_dir={model_dir}",
                              f"--checkpoint_dir={model_dir}", "--eval_timeout=0"] + SMALL) == 0
  metrics = json.loads(open(os.path.join(model_dir, "eval", "metrics.json")).read())
  assert metrics["step"] == 2
  for key in ("DetectionBoxes_Precision/mAP", "DetectionMasks_Precision/mAP",
              "DetectionMasks_MaskSupervised/Precision/mAP", "DetectionMasks_Novel/Precision/mAP",
              "DetectionMasks_PerformanceByCategory/mAP/triangle",
              "DetectionMasks_PerformanceBySuperCategory/novel", "Loss/total_loss"):
    assert key in metrics["metrics"], key

  out = str(tmp_path / "exported")
  assert exporter_main_v2.main([
      "--input_type=image_tensor", f"--pipeline_config_path={config}",
      f"--trained_checkpoint_dir={model_dir}", f"--output_directory={out}"] + SMALL) == 0
  assert os.path.exists(os.path.join(out, "pipeline.config"))
  assert os.path.exists(os.path.join(out, "checkpoint", "ckpt-0.index"))

  image_path = str(data / "val_images" / "00000.png")
  script = (
      "import json, sys, numpy as np, tensorflow as tf\nfrom PIL import Image\n"
      "m = tf.saved_model.load(sys.argv[1])\n"
      "img = np.asarray(Image.open(sys.argv[2]).convert('RGB'))[None]\n"
      "out = m.signatures['serving_default'](input_tensor=tf.constant(img))\n"
      "pm = m.signatures['image_and_boxes'](input_tensor=tf.constant(img),"
      " boxes=tf.constant([[[0.1, 0.1, 0.6, 0.6]]]))\n"
      "res = {k: v.numpy().tolist() for k, v in out.items()}\n"
      "res['prompt_shape'] = list(pm['detection_masks'].shape)\n"
      "print('JSON' + json.dumps(res))\n")
  proc = subprocess.run([sys.executable, "-c", script, os.path.join(out, "saved_model"),
                         image_path], capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  exported = json.loads(proc.stdout.split("JSON", 1)[1])

  pipeline = loader.load_pipeline_config(config, overrides=SMALL)
  model = model_builder.build(pipeline.model, is_training=False)
  exporter_lib.restore_model(model, model_dir)
  image = tf.constant(np.asarray(Image.open(image_path).convert("RGB"))[None], tf.float32)
  pre, shapes = model.preprocess(image)
  ref = model.postprocess(model.predict(pre, shapes), shapes)
  scores = np.asarray(ref["detection_scores"])[0]
  np.testing.assert_allclose(exported["detection_scores"][0], scores, atol=1e-5)
  # An untrained model has near-tied scores whose top-k order may differ between the eager and
  # the SavedModel graph; compare the detections whose score is separated from its neighbours.
  gaps = np.abs(scores[:, None] - scores[None, :]) + np.eye(len(scores))
  distinct = gaps.min(axis=1) > 1e-4
  assert distinct.sum() >= 1
  np.testing.assert_allclose(np.asarray(exported["detection_boxes"][0])[distinct],
                             np.asarray(ref["detection_boxes"])[0][distinct], atol=1e-4)
  np.testing.assert_array_equal(np.asarray(exported["detection_classes"][0])[distinct],
                                np.asarray(ref["detection_classes"])[0][distinct] + 1)
  np.testing.assert_allclose(np.asarray(exported["detection_masks"][0])[distinct],
                             np.asarray(ref["detection_masks"])[0][distinct], atol=1e-4)
  assert exported["prompt_shape"][:2] == [1, 1]
