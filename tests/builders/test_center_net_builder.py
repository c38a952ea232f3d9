"""center_net_builder: the reference HG-104 CenterNet builds with the original's parameter count,
config values reach the tasks, and bad configs raise ConfigError with the field path."""

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import center_net_builder
from object_detection.builders import deepmac_builder
from object_detection.core import fields
from object_detection.core.errors import ConfigError
from object_detection.protos import center_net_pb2
from object_detection.protos import pipeline_pb2

REFERENCE = "reference_configs/center_net_deepmac_512x512_voc_only_tpu-32.config"

TINY = """
num_classes: 3
feature_extractor { type: "hourglass_10" channel_means: [1, 2, 3] channel_stds: [4, 5, 6] }
image_resizer { fixed_shape_resizer { height: 32 width: 32 } }
object_detection_task {
  task_loss_weight: 2.0 offset_loss_weight: 0.5 scale_loss_weight: 0.2
  localization_loss { l1_localization_loss {} }
  scale_head_params { num_filters: [8, 4] kernel_sizes: [3, 1] }
}
object_center_params {
  object_center_loss_weight: 1.5 min_box_overlap_iou: 0.5 max_box_predictions: 7
  peak_max_pool_kernel_size: 5 heatmap_bias_init: -1.0
  classification_loss { penalty_reduced_logistic_focal_loss { alpha: 1.0 beta: 3.0 } }
  center_head_params { num_filters: [8] kernel_sizes: [3] }
}
"""


def _tiny(**changes):
  config = text_format.Parse(TINY, center_net_pb2.CenterNet())
  for path, value in changes.items():
    *parents, leaf = path.split(".")
    message = config
    for p in parents:
      message = getattr(message, p)
    setattr(message, leaf, value)
  return config


@pytest.fixture(scope="module")
def hourglass_104_model(shared_dir):
  """The reference config's CenterNet part (DeepMAC removed), resized to 128x128, built once."""
  pipeline = text_format.Parse((shared_dir / REFERENCE).read_text(),
                               pipeline_pb2.TrainEvalPipelineConfig())
  config = pipeline.model.center_net
  config.ClearField("deepmac_mask_estimation")
  config.image_resizer.keep_aspect_ratio_resizer.min_dimension = 128
  config.image_resizer.keep_aspect_ratio_resizer.max_dimension = 128
  model = center_net_builder.build(config, is_training=False)
  detections = model(tf.zeros([1, 128, 128, 3]))
  return model, detections


@pytest.mark.slow
def test_hourglass_104_parameter_count_matches_the_original(hourglass_104_model):
  model, detections = hourglass_104_model
  trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
  total = sum(int(np.prod(v.shape)) for v in model.variables)
  # FEATURES table: CenterNet HG-104 512x512, 90 classes: 191,289,148 / 191,406,652.
  assert abs(trainable - 191_289_148) <= 0.005 * 191_289_148, trainable
  assert abs(total - 191_406_652) <= 0.005 * 191_406_652, total
  print(f"HG-104 CenterNet: {trainable:,} trainable, {total:,} variables")
  backbone = sum(int(np.prod(v.shape))
                 for v in model.feature_extractor.trainable_variables)
  assert abs(backbone - 187.7e6) <= 0.005 * 187.7e6, backbone
  assert model.feature_extractor.num_feature_outputs == 2
  assert detections[fields.DetectionResultFields.detection_boxes].shape == (1, 100, 4)
  assert detections[fields.DetectionResultFields.detection_multiclass_scores].shape == (1, 100,
                                                                                        90)


@pytest.mark.slow
def test_reference_config_values_reach_the_model(hourglass_104_model):
  model, _ = hourglass_104_model
  extractor = model.feature_extractor
  assert extractor.bgr_ordering
  np.testing.assert_allclose(extractor.channel_means, [104.01362025, 114.03422265, 119.9165958],
                             rtol=1e-6)
  center, box = model.tasks
  assert center.params.max_box_predictions == 100 and center.params.min_box_overlap_iou == (
      pytest.approx(0.7))
  assert box.params.scale_loss_weight == pytest.approx(0.1)


def test_tiny_config_values_reach_the_tasks():
  model = center_net_builder.build(_tiny(), is_training=True)
  center, box = model.tasks
  assert center.params.max_box_predictions == 7 and center.params.peak_max_pool_kernel_size == 5
  assert center.params.heatmap_bias_init == -1.0 and center.params.object_center_loss_weight == 1.5
  assert center.classification_loss.keywords == {"alpha": 1.0, "beta": 3.0}
  assert box.params.scale_kernel_sizes == (3, 1) and box.params.scale_num_filters == (8, 4)
  assert box.params.offset_num_filters == (256,)  # default head
  assert (box.params.task_loss_weight, box.params.scale_loss_weight,
          box.params.offset_loss_weight) == pytest.approx((2.0, 0.2, 0.5))
  detections = model(tf.zeros([1, 40, 20, 3]))
  assert detections[fields.DetectionResultFields.detection_scores].shape == (1, 7)
  assert model.feature_extractor.channel_stds == (4.0, 5.0, 6.0)


def test_unknown_extractor_lists_known_names():
  with pytest.raises(ConfigError) as info:
    center_net_builder.build(_tiny(**{"feature_extractor.type": "hourglass_105"}), False)
  message = str(info.value)
  assert message.startswith("model.center_net.feature_extractor.type: unknown")
  assert "hourglass_104" in message and "resnet_v1_50_fpn" in message


@pytest.mark.parametrize("config_text,match", [
    ('classification_loss { weighted_sigmoid {} }',
     "object_center_params.classification_loss: classification loss not supported"),
    ('center_head_params { num_filters: [8, 8] kernel_sizes: [3] }',
     "center_head_params: kernel_sizes and num_filters differ"),
])
def test_bad_object_center_params(config_text, match):
  config = _tiny()
  config.object_center_params.ClearField("classification_loss")
  config.object_center_params.ClearField("center_head_params")
  text_format.Merge(config_text, config.object_center_params)
  with pytest.raises(ConfigError, match=match):
    center_net_builder.build_detection_tasks(config, True, num_outputs=1)


def test_missing_object_center_and_bad_stds():
  config = _tiny()
  config.ClearField("object_center_params")
  with pytest.raises(ConfigError, match="object_center_params: not set"):
    center_net_builder.build_detection_tasks(config, True, num_outputs=1)
  config = _tiny()
  config.feature_extractor.channel_stds[1] = 0.0
  with pytest.raises(ConfigError, match="channel_stds: must be positive"):
    center_net_builder.build_feature_extractor(config, True)


def test_bad_mobilenet_options_are_config_errors():
  config = _tiny()
  config.feature_extractor.type = "mobilenet_v2_fpn"
  config.feature_extractor.depth_multiplier = 0.0
  config.feature_extractor.upsampling_interpolation = "cubic"
  with pytest.raises(ConfigError) as info:
    center_net_builder.build_feature_extractor(config, True)
  assert ("model.center_net.feature_extractor.depth_multiplier: must be positive (got 0; "
          "expected a width multiplier > 0, e.g. 1.0)") in str(info.value)
  assert ("model.center_net.feature_extractor.upsampling_interpolation: unknown interpolation "
          "(got 'cubic'; expected one of: nearest, bilinear)") in str(info.value)


def test_unsupported_tasks_and_nms_are_refused():
  config = _tiny()
  config.keypoint_estimation_task.add().task_name = "human_pose"
  with pytest.raises(ConfigError, match="keypoint_estimation_task: task not supported"):
    center_net_builder.build_detection_tasks(config, True, num_outputs=1)
  config = _tiny()
  config.mask_estimation_task.task_loss_weight = 1.0
  with pytest.raises(ConfigError, match="mask_estimation_task: task not supported"):
    center_net_builder.build(config, True)
  config = _tiny()
  config.post_processing.SetInParent()
  with pytest.raises(ConfigError, match="post_processing: NMS after CenterNet"):
    center_net_builder.build(config, True)


def test_detection_tasks_without_box_task_and_stack_count():
  config = _tiny()
  config.ClearField("object_detection_task")
  tasks = center_net_builder.build_detection_tasks(config, True, num_outputs=1)
  assert len(tasks) == 1
  assert len(center_net_builder.build_detection_tasks(config, True, 2)[0].center_heads) == 2


def test_deepmac_task_gets_the_built_extractors_outputs(monkeypatch):
  calls = []
  real_make_task = deepmac_builder.make_task
  def spy(args, num_classes, num_feature_outputs):
    calls.append(num_feature_outputs)
    return real_make_task(args, num_classes, num_feature_outputs)
  monkeypatch.setattr(deepmac_builder, "make_task", spy)
  config = _tiny()
  text_format.Merge('deepmac_mask_estimation { dim: 4 pixel_embedding_dim: 4 mask_size: 8 '
                    'network_type: "resnet4" num_init_channels: 4 }', config)
  model = center_net_builder.build(config, True)
  assert type(model).__name__ == "DeepMACMetaArch"
  assert calls == [model.feature_extractor.num_feature_outputs] == [1]
  assert model.tasks[-1] is model.deepmac_task


def test_model_builder_entry_point_builds_center_net():
  from object_detection.builders import model_builder  # pylint: disable=import-outside-toplevel
  from object_detection.protos import model_pb2  # pylint: disable=import-outside-toplevel
  model_config = model_pb2.DetectionModel()
  model_config.center_net.CopyFrom(_tiny())
  model = model_builder.build(model_config, is_training=True)
  detections = model(tf.zeros([2, 32, 32, 3]))
  assert detections[fields.DetectionResultFields.detection_boxes].shape == (2, 7, 4)
  assert model.num_classes == 3
