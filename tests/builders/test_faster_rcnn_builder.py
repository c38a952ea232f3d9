"""faster_rcnn_builder: the two reference configs at full size (parameter parity with the
original, one train step at reduced size), a tiny FPN + deep-mask-head config end to end, and
the error messages of bad configs."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import faster_rcnn_builder
from object_detection.builders import model_builder
from object_detection.core import fields
from object_detection.core.errors import ConfigError
from object_detection.protos import model_pb2
from object_detection.protos import pipeline_pb2

F = fields.InputDataFields
L = fields.LossNames

# FEATURES.md table: the original built from these configs (is_training=False).
REFERENCE = {
    "faster_rcnn_resnet50_v1_640x640_coco17_tpu-8": (28_458_727, 28_511_847, 128),
    "mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8": (64_947_141, 65_007_685, 64),
}


def _count(variables):
  return sum(int(np.prod(v.shape)) for v in variables)


def _small(model):
  """Cuts proposal / detection counts so a forward pass at a small size is cheap."""
  model.proposal_generator.max_proposals = 4
  heads = model.roi_heads
  heads.batch_size = 4
  heads.nms = dataclasses.replace(heads.nms, max_detections_per_class=2, max_total_detections=2)


def _groundtruth(size, num_classes):
  boxes = tf.constant([[[0.1, 0.1, 0.6, 0.7], [0.0, 0.0, 0.0, 0.0]]])
  classes = tf.one_hot([[4, 0]], num_classes) * tf.constant([[[1.0], [0.0]]])
  masks = np.zeros([1, 2, size, size], np.uint8)
  masks[0, 0, size // 10:size * 6 // 10, size // 10:size * 7 // 10] = 1
  return {F.groundtruth_boxes: boxes, F.groundtruth_classes: classes,
          F.groundtruth_weights: tf.constant([[1.0, 0.0]]),
          F.groundtruth_instance_masks: tf.constant(masks)}


@pytest.fixture(scope="module", params=sorted(REFERENCE))
def reference_model(request, shared_dir):
  path = shared_dir / "reference_configs" / f"{request.param}.config"
  config = pipeline_pb2.TrainEvalPipelineConfig()
  text_format.Merge(path.read_text(), config)
  model = model_builder.build(config.model, is_training=False)
  _small(model)
  size = REFERENCE[request.param][2]
  shapes = tf.constant([[size, size, 3]])
  # Builds every variable (heads are built lazily) without a full-size forward pass.
  model.postprocess(model.predict(tf.zeros([1, size, size, 3]), shapes), shapes)
  return request.param, model


@pytest.mark.slow
def test_reference_parameter_counts(reference_model):
  name, model = reference_model
  trainable, total, _ = REFERENCE[name]
  assert abs(_count(model.trainable_weights) - trainable) <= 0.005 * trainable
  assert abs(_count(model.weights) - total) <= 0.005 * total


@pytest.mark.slow
def test_reference_train_step_at_reduced_size(reference_model):
  name, model = reference_model
  size = REFERENCE[name][2]
  images = tf.random.uniform([1, size, size, 3], 0, 255)
  x = model.feature_extractor.preprocess(images)
  shapes = tf.constant([[size, size, 3]])
  gt = _groundtruth(size, model.num_classes)
  with tf.GradientTape() as tape:
    losses = model.loss(model.predict(x, shapes, gt, training=True), shapes, gt)
    total = tf.add_n(list(losses.values()))
  grads = tape.gradient(total, model.trainable_variables)
  expected = {L.rpn_localization, L.rpn_objectness, L.box_classifier_localization,
              L.box_classifier_classification}
  if model.roi_heads.mask_head is not None:
    expected.add(L.box_classifier_mask)
  assert set(losses) == expected
  assert np.isfinite(total.numpy())
  assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)


TINY = """
faster_rcnn {
  number_of_stages: 3
  num_classes: 3
  image_resizer { fixed_shape_resizer { height: 64 width: 64 } }
  feature_extractor {
    type: 'faster_rcnn_resnet50_fpn_keras'
    fpn { min_level: 2 max_level: 6 additional_layer_depth: 8 }
  }
  first_stage_anchor_generator {
    multiscale_anchor_generator { min_level: 2 max_level: 6 anchor_scale: 2.0
                                  aspect_ratios: [1.0] scales_per_octave: 1 }
  }
  first_stage_box_predictor_depth: 8
  first_stage_max_proposals: 8
  initial_crop_size: 4
  maxpool_kernel_size: 1
  maxpool_stride: 1
  second_stage_batch_size: 4
  second_stage_box_predictor {
    mask_rcnn_box_predictor {
      predict_instance_masks: true
      mask_height: 8 mask_width: 8
      mask_prediction_conv_depth: 4
      masks_are_class_agnostic: true
      mask_head_network_type: 'hourglass20'
      mask_head_num_filters: 4
    }
  }
  second_stage_post_processing {
    batch_non_max_suppression { iou_threshold: 0.6 max_detections_per_class: 3
                                max_total_detections: 5 }
    score_converter: SOFTMAX
  }
  use_gt_boxes_for_masks: true
  allowed_masked_classes_ids: [1, 2]
}
"""


def _config(text=TINY, **replace):
  for old, new in replace.items():
    if old not in text:
      raise KeyError(old)
    text = text.replace(old, new)
  return text_format.Parse(text, model_pb2.DetectionModel()).faster_rcnn


@pytest.mark.slow
def test_tiny_fpn_deep_head_end_to_end(tmp_path):
  model = faster_rcnn_builder.build(_config(), is_training=True)
  assert model.roi_heads.mask_head.input_kind == "roi_features"
  assert model.roi_heads.allowed_masked_classes_ids == (1, 2)
  images = tf.random.uniform([1, 64, 64, 3], 0, 255)
  x, shapes = model.preprocess(images)
  assert x.shape == (1, 64, 64, 3)
  gt = _groundtruth(64, 3)
  gt[F.groundtruth_classes] = tf.one_hot([[1, 0]], 3) * tf.constant([[[1.0], [0.0]]])
  pred = model.predict(x, shapes, gt, training=True)
  assert pred["mask_predictions"].shape == (1, 2, 1, 8, 8)
  losses = model.loss(pred, shapes, gt)
  assert losses[L.box_classifier_mask].numpy() > 0.0
  det = model.postprocess(model.predict(x, shapes), shapes)
  assert det[fields.DetectionResultFields.detection_masks].shape == (1, 5, 8, 8)
  # Every weight reaches the checkpoint (FPN levels and deep-head convs are kept in lists).
  path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
  saved = {n: s for n, s in tf.train.list_variables(path) if n.endswith("VARIABLE_VALUE")}
  assert sum(int(np.prod(s)) for s in saved.values()) == _count(model.weights)
  assert any(n.startswith("model/feature_extractor/fpn/lateral/0/") for n in saved)
  assert any(n.startswith("model/roi_heads/mask_head/convnet/") for n in saved)


@pytest.mark.parametrize("replace,match", [
    ({"faster_rcnn_resnet50_fpn_keras": "faster_rcnn_resnet50_fpn"},
     r"model.faster_rcnn.feature_extractor.type: unknown .*did you mean"),
    ({"'hourglass20'": "'hourglass_20'"},
     r"mask_rcnn_box_predictor.mask_head_network_type: unknown"),
    ({"predict_instance_masks: true": "predict_instance_masks: false"},
     r"number_of_stages: 3 recomputes masks"),
    ({"allowed_masked_classes_ids: [1, 2]": "allowed_masked_classes_ids: [4]"},
     r"allowed_masked_classes_ids: ids out of range \(got \[4\]; expected 1..3\)"),
    ({"iou_threshold: 0.6": "iou_threshold: 0.6 soft_nms_sigma: 0.5"},
     r"soft_nms_sigma: Soft-NMS is not implemented"),
    ({"initial_crop_size: 4": "initial_crop_size: 0"}, r"initial_crop_size: must be set"),
    ({"min_level: 2 max_level: 6 anchor_scale": "min_level: 3 max_level: 6 anchor_scale"},
     r"levels do not match the feature extractor"),
])
def test_bad_configs(replace, match):
  with pytest.raises(ConfigError, match=match):
    faster_rcnn_builder.build(_config(**replace), is_training=True)


def test_check_lists_every_problem_without_building(monkeypatch):
  """Load-time validation (config/validation.py) runs faster_rcnn_builder.check through the
  META_ARCHITECTURES registry: it reports every problem at once, each as build words it,
  and constructs no layer."""
  from object_detection.config import validation  # pylint: disable=import-outside-toplevel
  from object_detection.core import registries  # pylint: disable=import-outside-toplevel
  from object_detection.core.problems import Problems  # pylint: disable=import-outside-toplevel
  assert registries.META_ARCHITECTURES.get("faster_rcnn") is faster_rcnn_builder
  bad = {"allowed_masked_classes_ids: [1, 2]": "allowed_masked_classes_ids: [4]",
         "initial_crop_size: 4": "initial_crop_size: 0",
         "first_stage_max_proposals: 8": "first_stage_max_proposals: 0",
         "fpn { min_level: 2 max_level: 6": "fpn { min_level: 1 max_level: 6",
         "mask_head_num_filters: 4": "mask_head_num_filters: 4 mask_head_upsample_factor: 3",
         "'hourglass20'": "'hourglass_20'"}
  built = []
  monkeypatch.setattr(keras.layers.Layer, "__init__", lambda *a, **k: built.append(a[0]))
  problems = Problems()
  faster_rcnn_builder.check(_config(**{"'hourglass20'": "'hourglass_20'"}), problems)
  assert problems.lines == [
      "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor."
      "mask_head_network_type: unknown Mask R-CNN mask head 'hourglass_20' (did you mean "
      "\"hourglass20\"?) (expected one of: " +
      ", ".join(registries.MASK_RCNN_MASK_HEADS.names()) + ")"]
  del bad["'hourglass20'"]
  problems = Problems()
  faster_rcnn_builder.check(_config(**bad), problems)
  assert not built
  fields_named = [line.split(":")[0] for line in problems.lines]
  assert fields_named == [
      "model.faster_rcnn.feature_extractor.fpn",
      "model.faster_rcnn.first_stage_anchor_generator.multiscale_anchor_generator",
      "model.faster_rcnn.first_stage_max_proposals",
      "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor.mask_height",
      "model.faster_rcnn.initial_crop_size",
      "model.faster_rcnn.allowed_masked_classes_ids"], problems.lines
  monkeypatch.undo()
  with pytest.raises(ConfigError) as raised:
    faster_rcnn_builder.build(_config(**bad), is_training=True)
  assert str(raised.value) == "\n".join(problems.lines)
  pipeline = pipeline_pb2.TrainEvalPipelineConfig()
  pipeline.model.faster_rcnn.CopyFrom(_config(**bad))
  assert set(problems.lines) <= set(validation.check(pipeline))


def test_model_carries_the_mask_supervised_class_ids():
  model = faster_rcnn_builder.build(_config(), is_training=True)
  assert model.mask_supervised_class_ids == [1, 2]
  text = TINY.replace("  use_gt_boxes_for_masks: true\n  allowed_masked_classes_ids: [1, 2]\n",
                      "")
  assert faster_rcnn_builder.build(_config(text), is_training=True).mask_supervised_class_ids \
      is None


def test_fpn_extractor_needs_multiscale_anchors():
  text = TINY.replace(
      "multiscale_anchor_generator { min_level: 2 max_level: 6 anchor_scale: 2.0\n"
      "                                  aspect_ratios: [1.0] scales_per_octave: 1 }",
      "grid_anchor_generator { }")
  with pytest.raises(ConfigError, match="needs multiscale_anchor_generator"):
    faster_rcnn_builder.build(_config(text), is_training=True)


SHIPPED = {
    "mask_rcnn_resnet50_fpn_640x640_coco17_gpu-8": ("roi_features", (), 640),
    "mask_rcnn_resnet50_fpn_hourglass52_1024x1024_voc_only_gpu-8": ("roi_features", 20, 1024),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_configs_load_and_build(name):
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  path = faster_rcnn_builder.__file__.rsplit("/object_detection/", 1)[0]
  pipeline = loader.load_pipeline_config(f"{path}/configs/tf2/{name}.config")
  text = open(f"{path}/configs/tf2/{name}.config").read()
  assert text.startswith("# ====") and "# Paper:" in text and "# Expected:" in text
  model = model_builder.build(pipeline.model, is_training=True)
  kind, allowed, size = SHIPPED[name]
  assert model.roi_heads.mask_head.input_kind == kind
  assert len(model.roi_heads.allowed_masked_classes_ids) == (allowed or 0)
  assert model.roi_heads.use_gt_boxes_for_masks == bool(allowed)
  assert len(model.feature_extractor.features_strides) == 5
  x, shapes = model.preprocess(tf.zeros([1, 48, 64, 3]))
  assert x.shape == (1, size, size, 3)
  np.testing.assert_array_equal(shapes.numpy(), [[size * 3 // 4, size, 3]])


def _deviation_ids(faster_rcnn):
  from object_detection.config import deviations  # pylint: disable=import-outside-toplevel
  pipeline = pipeline_pb2.TrainEvalPipelineConfig()
  pipeline.model.faster_rcnn.CopyFrom(faster_rcnn)
  return deviations.warn_about(pipeline)


def test_hyperparams_reach_the_heads():
  text = TINY.replace(
      "      mask_prediction_conv_depth: 4\n",
      "      mask_prediction_conv_depth: 4\n"
      "      conv_hyperparams { op: CONV initializer { truncated_normal_initializer"
      " { stddev: 0.5 } } batch_norm { decay: 0.9 train: false } }\n"
      "      mask_head_network_type: 'default'\n").replace(
          "      mask_head_network_type: 'hourglass20'\n", "")
  model = faster_rcnn_builder.build(_config(text), is_training=True)
  head = model.roi_heads.mask_head
  assert head.input_kind == "box_classifier_features"
  norm = head.params.hyperparams.build_normalization()
  assert norm.momentum == pytest.approx(0.9) and not norm.trainable
  assert not head.params.hyperparams.layer_kwargs()["use_bias"]
  # docs/DEVIATIONS.md D7 (warned at config load): batch norm trained on the mask RoIs only.
  assert "D7" not in _deviation_ids(_config(text))                       # train: false
  text = text.replace("train: false", "train: true")
  assert "D7" not in _deviation_ids(_config(text))                        # masks on GT boxes
  assert "D7" in _deviation_ids(_config(text.replace("use_gt_boxes_for_masks: true", "")))
  assert "D7" not in _deviation_ids(_config(TINY.replace("use_gt_boxes_for_masks: true", "")))
  # D8 (pre-NMS top-k) concerns every R-CNN config.
  assert _deviation_ids(_config(TINY)) == ["D8"]
