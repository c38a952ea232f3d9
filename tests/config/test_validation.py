"""Semantic validation: DeepMAC combinations, sizes, schedules; normalisation of aliases."""

import logging

import pytest

from object_detection.config import validate
from object_detection.config.loader import finalize, parse_pipeline_text
from object_detection.config.validation import check
from object_detection.core.errors import ConfigError

DEEPMAC = "model.center_net.deepmac_mask_estimation"


@pytest.fixture
def pipeline(deepmac_text):
  return parse_pipeline_text(deepmac_text)


def _deepmac(pipeline):
  return pipeline.model.center_net.deepmac_mask_estimation


def test_valid_pipeline_passes(pipeline):
  assert check(pipeline) == []
  validate(pipeline)  # does not raise


def test_full_resolution_with_roi_jitter(pipeline):
  _deepmac(pipeline).predict_full_resolution_masks = True
  _deepmac(pipeline).max_roi_jitter_ratio = 0.1
  assert check(pipeline) == [
      f"{DEEPMAC}.max_roi_jitter_ratio: RoI jitter needs RoI crops (got 0.1 with "
      "predict_full_resolution_masks: true; expected 0 with full-resolution masks)"]


def test_embedding_projection_requirements(pipeline):
  _deepmac(pipeline).network_type = "embedding_projection"
  assert check(pipeline) == [
      f"{DEEPMAC}.use_instance_embedding: network_type 'embedding_projection' has no parameters: "
      "the instance embedding is its weights, not an input (got true; expected false)",
      f"{DEEPMAC}.use_xy: embedding_projection takes the pixel embedding only (got true; "
      "expected false)",
      f"{DEEPMAC}.dim: embedding_projection is a dot product of the two embeddings (got dim 8; "
      "expected pixel_embedding_dim = 4)"]
  _deepmac(pipeline).use_xy = False
  _deepmac(pipeline).use_instance_embedding = False
  _deepmac(pipeline).dim = 4
  assert check(pipeline) == []


def test_cond_inst_dim_formula(pipeline):
  deepmac = _deepmac(pipeline)
  deepmac.network_type = "cond_inst2"
  deepmac.use_instance_embedding = False
  deepmac.num_init_channels = 3
  # in = pixel_embedding_dim 4 + 2 (xy) = 6; D = 2: 6*3 + 0 + 3 + 3*1 + 1 = 25.
  assert check(pipeline) == [
      f"{DEEPMAC}.dim: cond_inst2 stores a 2-layer per-pixel MLP in the instance embedding (got "
      "dim 8; expected 25 for 6 input channels and num_init_channels 3)"]
  deepmac.dim = 25
  assert check(pipeline) == []


def test_subsampling_and_point_supervision_rejected(pipeline):
  _deepmac(pipeline).mask_num_subsamples = 4
  _deepmac(pipeline).pointly_supervised_keypoint_loss_weight = 1.0
  assert check(pipeline) == [
      f"{DEEPMAC}.mask_num_subsamples: instance subsampling is not supported (got 4; expected -1 "
      "or 0, as in the original)",
      f"{DEEPMAC}.pointly_supervised_keypoint_loss_weight: point supervision from keypoints is "
      "not implemented (keypoints are out of scope) (got 1; expected 0)"]


def test_color_consistency_with_roi_crops_is_valid(pipeline, caplog):
  # The original returned 0 for this loss with RoI crops; here it is implemented in both modes.
  # Not a validation problem: loading such a config warns (deviation D3, config/deviations.py).
  _deepmac(pipeline).color_consistency_loss_weight = 2.0
  with caplog.at_level(logging.WARNING):
    assert check(pipeline) == []
  assert "color_consistency" not in caplog.text


def test_positive_sizes_and_resizer(pipeline):
  _deepmac(pipeline).mask_size = 0
  resizer = pipeline.model.center_net.image_resizer.keep_aspect_ratio_resizer
  resizer.min_dimension = 128
  pipeline.train_input_reader.max_number_of_boxes = 0
  assert check(pipeline) == [
      "model.center_net.image_resizer.keep_aspect_ratio_resizer.max_dimension: smaller than "
      "min_dimension (got 64; expected >= 128)",
      f"{DEEPMAC}.mask_size: must be positive (got 0; expected > 0)",
      "train_input_reader.max_number_of_boxes: must be positive (got 0; expected > 0)"]


def test_duplicate_allowed_ids(pipeline):
  _deepmac(pipeline).allowed_masked_classes_ids.append(3)
  assert check(pipeline) == [
      f"{DEEPMAC}.allowed_masked_classes_ids: duplicate class ids (got 3; expected each id once)"]


def test_cosine_schedule_checks(pipeline):
  cosine = (pipeline.train_config.optimizer.adam_optimizer.learning_rate
            .cosine_decay_learning_rate)
  cosine.warmup_steps = 20
  assert check(pipeline) == [
      "train_config.optimizer.adam_optimizer.learning_rate.cosine_decay_learning_rate.total_steps:"
      " shorter than the warm-up (got 10; expected >= warmup_steps = 20)"]


def test_unknown_fine_tune_type(pipeline):
  pipeline.train_config.fine_tune_checkpoint_type = "detecton"
  with pytest.raises(ConfigError) as info:
    finalize(pipeline)
  assert str(info.value) == (
      "train_config.fine_tune_checkpoint_type: unknown type 'detecton' (did you mean "
      "\"detection\"?) (expected one of: classification, detection, full; fine_tune is read as "
      "detection)")


def test_fine_tune_alias(pipeline):
  pipeline.train_config.fine_tune_checkpoint_type = "fine_tune"
  finalize(pipeline)
  assert pipeline.train_config.fine_tune_checkpoint_type == "detection"


def test_feature_consistency_alias(pipeline):
  deepmac = _deepmac(pipeline)
  deepmac.feature_consistency_loss_weight = 1.5
  deepmac.feature_consistency_dilation = 3
  deepmac.predict_full_resolution_masks = True
  finalize(pipeline)
  assert deepmac.color_consistency_loss_weight == 1.5
  assert deepmac.color_consistency_dilation == 3
  assert not deepmac.HasField("feature_consistency_loss_weight")


def test_feature_consistency_parses_from_text(deepmac_text):
  text = deepmac_text.replace("      dim: 8", "      dim: 8\n      feature_consistency_threshold: "
                              "0.3\n      feature_consistency_type: CONSISTENCY_FEATURE_MAP")
  pipeline = finalize(parse_pipeline_text(text))
  assert _deepmac(pipeline).color_consistency_threshold == pytest.approx(0.3)
  assert _deepmac(pipeline).feature_consistency_type == 1


def test_conflicting_alias(pipeline):
  _deepmac(pipeline).feature_consistency_threshold = 0.3
  _deepmac(pipeline).color_consistency_threshold = 0.5
  with pytest.raises(ConfigError) as info:
    finalize(pipeline)
  assert str(info.value).startswith(
      f"{DEEPMAC}.feature_consistency_threshold: conflicts with color_consistency_threshold (got "
      "0.3 and 0.5;")


def test_deprecated_max_number_of_boxes_warns(pipeline, caplog):
  pipeline.train_config.max_number_of_boxes = 50
  with caplog.at_level(logging.WARNING):
    finalize(pipeline)
  assert ("train_config.max_number_of_boxes is deprecated and ignored (got 50); ground truth is "
          "padded to train_input_reader.max_number_of_boxes (100)") in caplog.text


def test_augmentations_and_metrics_checked_against_registries(pipeline, monkeypatch):
  from object_detection.core import registries  # pylint: disable=import-outside-toplevel
  from object_detection.core.registry import Registry  # pylint: disable=import-outside-toplevel
  augmentations = Registry("data augmentation (PreprocessingStep)")
  augmentations.register("random_horizontal_flip")(lambda step, problems, path: None)
  metrics = Registry("eval metrics_set")
  metrics.register("coco_detection_metrics", "coco_mask_metrics")(lambda *a: None)
  monkeypatch.setattr(registries, "AUGMENTATIONS", augmentations)
  monkeypatch.setattr(registries, "EVAL_METRICS", metrics)
  pipeline.train_config.data_augmentation_options.add().random_horizontal_flip.SetInParent()
  pipeline.train_config.data_augmentation_options.add().random_black_patches.SetInParent()
  pipeline.eval_config.metrics_set.append("coco_mask_metric")
  assert check(pipeline, check_registries=False) == [
      "train_config.data_augmentation_options[1]: augmentation 'random_black_patches' parses but "
      "is not implemented (expected one of: random_horizontal_flip)",
      "eval_config.metrics_set[1]: unknown eval metrics_set 'coco_mask_metric' (did you mean "
      "\"coco_mask_metrics\"?) (expected one of: coco_detection_metrics, coco_mask_metrics)"]


def test_placeholder_paths_warn(pipeline, caplog):
  pipeline.train_input_reader.label_map_path = "PATH_TO_BE_CONFIGURED/label_map.txt"
  with caplog.at_level(logging.WARNING):
    assert check(pipeline) == []
  assert ("train_input_reader.label_map_path still contains PATH_TO_BE_CONFIGURED (got "
          "'PATH_TO_BE_CONFIGURED/label_map.txt')") in caplog.text


def test_use_bfloat16_warns_that_it_applies_on_every_device(pipeline, caplog):
  with caplog.at_level(logging.WARNING):
    assert check(pipeline) == []
  assert "use_bfloat16" not in caplog.text
  pipeline.train_config.use_bfloat16 = True
  with caplog.at_level(logging.WARNING):
    assert check(pipeline) == []
  assert ("train_config.use_bfloat16: true trains and evaluates in mixed bfloat16 on every "
          "device (the original: only on TPU, float32 elsewhere)") in caplog.text
