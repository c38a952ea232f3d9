"""Eval preparation (frames, mask pasting/resizing) and the eval loop with a constant model."""

import json

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.core.model import DetectionModel
from object_detection.eval import eval_loop
from object_detection.eval import metrics
from object_detection.eval import prepare

IN = fields.InputDataFields
DET = fields.DetectionResultFields


def _batch():
  """Padded 64x64 input whose true image is 32x64; the original image is 100x200."""
  masks = np.zeros((1, 2, 64, 64), np.uint8)
  masks[0, 0, 16:32, 32:64] = 1
  features = {IN.image: np.zeros((1, 64, 64, 3), np.float32),
              IN.true_image_shape: np.array([[32, 64, 3]], np.int32),
              IN.original_image_spatial_shape: np.array([[100, 200]], np.int32)}
  labels = {IN.groundtruth_boxes: np.array([[[0.25, 0.5, 0.5, 1.0], [0, 0, 0, 0]]], np.float32),
            IN.groundtruth_classes: np.array([[[0, 1], [0, 0]]], np.float32),
            IN.groundtruth_weights: np.array([[1, 0]], np.float32),
            IN.num_groundtruth_boxes: np.array([1], np.int32),
            IN.groundtruth_instance_masks: masks}
  return features, labels


def test_groundtruth_to_original_frame():
  features, labels = _batch()
  gt = prepare.groundtruth_for_image(labels, features, 0)
  np.testing.assert_allclose(gt["groundtruth_boxes"], [[50, 100, 100, 200]])
  np.testing.assert_array_equal(gt["groundtruth_classes"], [2])
  m = gt["groundtruth_instance_masks"]
  assert m.shape == (1, 100, 200) and m.dtype == np.uint8
  assert m[0, 50:, 100:].all() and m.sum() == 50 * 100


class ConstantModel(DetectionModel):
  """Always detects the box [0.5, 0.5, 1, 1] (true-image frame), class index 1, full mask."""

  def __init__(self):
    super().__init__(num_classes=2)
    self.w = self.add_weight(shape=(), initializer="ones")

  def preprocess(self, images):
    return images, tf.constant([[32, 64, 3]])

  def predict(self, preprocessed_inputs, true_image_shapes, groundtruth=None, training=False):
    return {"x": tf.reduce_mean(preprocessed_inputs) * self.w}

  def loss(self, prediction_dict, true_image_shapes, groundtruth, training=True):
    return {fields.LossNames.object_center: prediction_dict["x"] + 2.0}

  def postprocess(self, prediction_dict, true_image_shapes):
    return {DET.detection_boxes: tf.constant([[[0.5, 0.5, 1.0, 1.0], [0, 0, 0.1, 0.1]]]),
            DET.detection_scores: tf.constant([[0.9, 0.0]]),
            DET.detection_classes: tf.constant([[1.0, 0.0]]),
            DET.num_detections: tf.constant([1]),
            DET.detection_masks: tf.ones([1, 2, 4, 4])}


def test_evaluate_perfect_detections_and_writes_json(tmp_path):
  features, labels = _batch()
  ds = tf.data.Dataset.from_tensors((features, labels))
  cats = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
  evs = [metrics.coco_detection_metrics(cats, mask_supervised_class_ids=[2]),
         metrics.coco_mask_metrics(cats, mask_supervised_class_ids=[2])]
  m = eval_loop.evaluate(ConstantModel(), ds, evs)
  assert m["DetectionBoxes_Precision/mAP"] == pytest.approx(1.0)
  assert m["DetectionMasks_Precision/mAP"] == pytest.approx(1.0)
  assert m["DetectionMasks_MaskSupervised/Precision/mAP"] == pytest.approx(1.0)
  assert m["DetectionMasks_Novel/Precision/mAP"] == -1.0  # class 1 has no ground truth
  assert m[fields.LossNames.object_center] == pytest.approx(2.0)
  eval_loop.write_metrics(m, 5, str(tmp_path), record_summaries=True)
  saved = json.loads((tmp_path / "metrics.json").read_text())
  assert saved["step"] == 5 and saved["metrics"]["DetectionBoxes_Precision/mAP"] == pytest.approx(1.0)
  assert list(tmp_path.glob("events.out.tfevents.*"))
  with pytest.raises(ValueError, match="no images"):
    eval_loop.evaluate(ConstantModel(), ds.take(0), evs)


def test_eval_continuously_stops_at_the_last_training_step(tmp_path):
  v = tf.Variable(0, dtype=tf.int64)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=v), str(tmp_path), 5)
  v.assign(10)
  manager.save(checkpoint_number=10)
  seen = []
  results = eval_loop.eval_continuously(lambda p: seen.append(p) or {"m": 1.0}, str(tmp_path),
                                        num_train_steps=10, timeout=30)
  assert [s for s, _ in results] == [10] and seen[0].endswith("ckpt-10")
  # not the last step: waits for a newer checkpoint and gives up after the timeout
  results = eval_loop.eval_continuously(lambda p: {"m": 1.0}, str(tmp_path),
                                        num_train_steps=20, timeout=1)
  assert [s for s, _ in results] == [10]
