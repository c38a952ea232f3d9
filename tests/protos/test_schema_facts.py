"""Pins field numbers and defaults of the schema to the original's (FEATURES.md §1).

Numbers are the compatibility contract for binary protos; defaults change behaviour silently, so
the ones the DeepMAC and Mask R-CNN paths depend on are pinned here.
"""

import pytest

from object_detection.protos import center_net_pb2
from object_detection.protos import eval_pb2
from object_detection.protos import input_reader_pb2
from object_detection.protos import model_pb2
from object_detection.protos import optimizer_pb2
from object_detection.protos import pipeline_pb2
from object_detection.protos import preprocessor_pb2
from object_detection.protos import train_pb2

# name: (number, default) — from FEATURES.md §1.4 (snapshot schema).
DEEPMAC_FIELDS = {
    "classification_loss": (1, None), "task_loss_weight": (2, 1.0), "dim": (3, 256),
    "pixel_embedding_dim": (4, 16), "allowed_masked_classes_ids": (5, []), "mask_size": (6, 32),
    "mask_num_subsamples": (67, -1), "use_xy": (8, True), "network_type": (9, "hourglass52"),
    "use_instance_embedding": (10, True), "num_init_channels": (11, 64),
    "predict_full_resolution_masks": (12, False), "postprocess_crop_size": (13, 256),
    "max_roi_jitter_ratio": (14, 0.0), "jitter_mode": (15, 0),
    "box_consistency_loss_weight": (16, 0.0), "color_consistency_threshold": (17, 0.4),
    "color_consistency_dilation": (18, 2), "color_consistency_loss_weight": (19, 0.0),
    "box_consistency_loss_normalize": (20, 0), "box_consistency_tightness": (21, False),
    "color_consistency_warmup_steps": (22, 0), "color_consistency_warmup_start": (23, 0),
    "use_only_last_stage": (24, False), "augmented_self_supervision_max_translation": (25, 0.0),
    "augmented_self_supervision_flip_probability": (26, 0.0),
    "augmented_self_supervision_loss_weight": (27, 0.0),
    "augmented_self_supervision_warmup_start": (28, 0),
    "augmented_self_supervision_warmup_steps": (29, 0),
    "augmented_self_supervision_loss": (30, 1),  # LOSS_DICE
    "augmented_self_supervision_scale_min": (31, 1.0),
    "augmented_self_supervision_scale_max": (32, 1.0),
    "pointly_supervised_keypoint_loss_weight": (33, 0.0),
    "ignore_per_class_box_overlap": (34, False),
    "feature_consistency_type": (35, 0), "feature_consistency_comparison": (36, 0),
}

PREPROCESSING_STEPS = [
    "normalize_image", "random_horizontal_flip", "random_pixel_value_scale", "random_image_scale",
    "random_rgb_to_gray", "random_adjust_brightness", "random_adjust_contrast",
    "random_adjust_hue", "random_adjust_saturation", "random_distort_color",
    "random_jitter_boxes", "random_crop_image", "random_pad_image", "random_crop_pad_image",
    "random_crop_to_aspect_ratio", "random_black_patches", "random_resize_method",
    "scale_boxes_to_pixel_coordinates", "resize_image", "subtract_channel_mean",
    "ssd_random_crop", "ssd_random_crop_pad", "ssd_random_crop_fixed_aspect_ratio",
    "ssd_random_crop_pad_fixed_aspect_ratio", "random_vertical_flip", "random_rotation90",
    "rgb_to_gray", "convert_class_logits_to_softmax", "random_absolute_pad_image",
    "random_self_concat_image", "autoaugment_image", "drop_label_probabilistically",
    "remap_labels", "random_jpeg_quality", "random_downscale_to_target_pixels",
    "random_patch_gaussian", "random_square_crop_by_scale",
    "random_scale_crop_and_pad_to_square", "adjust_gamma",
]


@pytest.mark.parametrize("name", sorted(DEEPMAC_FIELDS))
def test_deepmac_field_number_and_default(name):
  number, default = DEEPMAC_FIELDS[name]
  field = center_net_pb2.CenterNet.DeepMACMaskEstimation.DESCRIPTOR.fields_by_name[name]
  assert field.number == number
  if default is not None:
    value = getattr(center_net_pb2.CenterNet.DeepMACMaskEstimation(), name)
    assert (list(value) if default == [] else value) == pytest.approx(default)


def test_feature_consistency_aliases_use_our_numbers():
  fields = center_net_pb2.CenterNet.DeepMACMaskEstimation.DESCRIPTOR.fields_by_name
  for suffix in ("threshold", "dilation", "loss_weight", "warmup_steps", "warmup_start"):
    assert fields[f"feature_consistency_{suffix}"].number > 1000
    assert (fields[f"feature_consistency_{suffix}"].default_value ==
            fields[f"color_consistency_{suffix}"].default_value)


def test_pipeline_and_model_numbers():
  pipeline = pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR.fields_by_name
  assert {name: f.number for name, f in pipeline.items()} == {
      "model": 1, "train_config": 2, "train_input_reader": 3, "eval_config": 4,
      "eval_input_reader": 5, "graph_rewriter": 6}
  model = model_pb2.DetectionModel.DESCRIPTOR.oneofs_by_name["model"].fields
  assert {f.name: f.number for f in model} == {
      "faster_rcnn": 1, "ssd": 2, "experimental_model": 3, "center_net": 4}
  assert center_net_pb2.CenterNet.DESCRIPTOR.fields_by_name["deepmac_mask_estimation"].number == 14


def test_all_39_preprocessing_steps_in_order():
  oneof = preprocessor_pb2.PreprocessingStep.DESCRIPTOR.oneofs_by_name["preprocessing_step"]
  assert [(f.name, f.number) for f in oneof.fields] == [
      (name, number) for number, name in enumerate(PREPROCESSING_STEPS, start=1)]


def test_defaults_that_change_behaviour():
  assert optimizer_pb2.Optimizer().use_moving_average is True
  assert optimizer_pb2.AdamOptimizer().epsilon == pytest.approx(1e-8)
  assert train_pb2.TrainConfig().batch_size == 32
  assert train_pb2.TrainConfig().unpad_groundtruth_tensors is True
  assert train_pb2.TrainConfig().fine_tune_checkpoint_version == train_pb2.V1
  reader = input_reader_pb2.InputReader()
  assert (reader.max_number_of_boxes, reader.mask_type, reader.shuffle) == (
      100, input_reader_pb2.NUMERICAL_MASKS, True)
  assert eval_pb2.EvalConfig().batch_size == 1
  assert eval_pb2.EvalConfig().image_classes_field_map_empty_to_ones is True
  center = center_net_pb2.CenterNet.ObjectCenterParams()
  assert center.heatmap_bias_init == pytest.approx(-2.19)
  assert center.peak_max_pool_kernel_size == 3
