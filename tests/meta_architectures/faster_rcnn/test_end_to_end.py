"""A tiny Mask R-CNN through the command-line doors: TFRecords -> model_main_tf2 train (2 steps)
-> eval (box + mask metrics) -> exporter_main_v2 -> the SavedModel runs."""

import json
import os

import pytest
import tensorflow as tf

from object_detection import demo
from object_detection import exporter_main_v2
from object_detection import model_main_tf2

MODEL = """
model {
  faster_rcnn {
    number_of_stages: 3
    num_classes: 3
    image_resizer { fixed_shape_resizer { height: 64 width: 64 } }
    feature_extractor { type: 'faster_rcnn_resnet50_keras' batch_norm_trainable: true }
    first_stage_anchor_generator {
      grid_anchor_generator { scales: [0.125, 0.25] aspect_ratios: [1.0] height_stride: 16
                              width_stride: 16 }
    }
    first_stage_box_predictor_depth: 16
    first_stage_max_proposals: 8
    initial_crop_size: 6
    maxpool_kernel_size: 2
    maxpool_stride: 2
    second_stage_batch_size: 4
    second_stage_box_predictor {
      mask_rcnn_box_predictor {
        predict_instance_masks: true
        mask_height: 8 mask_width: 8
        mask_prediction_conv_depth: 4
      }
    }
    second_stage_post_processing {
      batch_non_max_suppression { iou_threshold: 0.6 max_detections_per_class: 4
                                  max_total_detections: 6 }
      score_converter: SOFTMAX
    }
  }
}
"""


@pytest.mark.slow
def test_tiny_mask_rcnn_train_eval_export(tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  (data / "label_map.pbtxt").write_text(demo.LABEL_MAP)
  demo.write_dataset(str(data / "train.tfrecord"), 4, seed=0)
  demo.write_dataset(str(data / "val.tfrecord"), 2, seed=1)
  shapes_config = open(demo.CONFIG, encoding="utf-8").read()
  rest = shapes_config[shapes_config.index("train_config"):]
  config = tmp_path / "pipeline.config"
  config.write_text(MODEL + rest.replace("PATH_TO_BE_CONFIGURED", str(data)))
  model_dir = str(tmp_path / "model")
  common = [f"--pipeline_config_path={config}"]
  small = ["train_config.batch_size=2"]

  assert model_main_tf2.main(common + [f"--model_dir={model_dir}", "--num_train_steps=2",
                                       "--checkpoint_every_n=2"] + small) == 0
  assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-2")
  assert model_main_tf2.main(common + [f"--model_dir={model_dir}",
                                       f"--checkpoint_dir={model_dir}", "--eval_timeout=0"]
                             + small) == 0
  metrics = json.loads(open(os.path.join(model_dir, "eval", "metrics.json")).read())["metrics"]
  for key in ("DetectionBoxes_Precision/mAP", "DetectionMasks_Precision/mAP",
              "Loss/BoxClassifierLoss/classification_loss", "Loss/RPNLoss/objectness_loss"):
    assert key in metrics, key

  out = str(tmp_path / "exported")
  assert exporter_main_v2.main(["--input_type=image_tensor", f"--pipeline_config_path={config}",
                                f"--trained_checkpoint_dir={model_dir}",
                                f"--output_directory={out}"] + small) == 0
  loaded = tf.saved_model.load(os.path.join(out, "saved_model"))
  det = loaded.signatures["serving_default"](input_tensor=tf.zeros([1, 80, 96, 3], tf.uint8))
  assert det["detection_masks"].shape == (1, 6, 8, 8)
  assert det["detection_boxes"].shape == (1, 6, 4)
  classes = det["detection_classes"].numpy()[0, :int(det["num_detections"].numpy()[0])]
  assert ((classes >= 1) & (classes <= 3)).all()
