"""The box task (ObjectDetection in center_net.proto): size and offset heads at object centres.

Predictions: {BOX_SCALE, BOX_OFFSET: lists (one per stack) of [B, h, w, 2]} with (height, width)
in output cells and (dy, dx) sub-cell offsets. Loss: {LossNames.box_scale, LossNames.box_offset}.
Postprocess (after ObjectCenterTask): detection_boxes_strided (output cells) and detection_boxes
(normalized to the true image).
"""

import dataclasses

import tensorflow as tf

from object_detection.core import fields
from object_detection.losses import center_net as center_net_losses
from object_detection.meta_architectures.center_net import heads
from object_detection.meta_architectures.center_net import object_center_task
from object_detection.meta_architectures.center_net import task as task_lib
from object_detection.ops import center_net_targets
from object_detection.ops import peaks

BOX_SCALE = "box/scale"
BOX_OFFSET = "box/offset"

_GT = fields.InputDataFields
_DET = fields.DetectionResultFields


@dataclasses.dataclass(frozen=True)
class BoxParams:
  """ObjectDetection of center_net.proto (defaults are the proto's).

  Attributes:
    task_loss_weight: float, multiplies both box losses.
    scale_loss_weight: float (0.1 in the configs), multiplies the size loss.
    offset_loss_weight: float (1.0), multiplies the offset loss.
    scale_kernel_sizes, scale_num_filters, offset_kernel_sizes, offset_num_filters: the heads'
      hidden convs (default one 3x3 conv of 256 each).
    use_depthwise: bool, separable hidden convs.
  """
  task_loss_weight: float = 1.0
  scale_loss_weight: float = 0.1
  offset_loss_weight: float = 1.0
  scale_kernel_sizes: tuple = (3,)
  scale_num_filters: tuple = (256,)
  offset_kernel_sizes: tuple = (3,)
  offset_num_filters: tuple = (256,)
  use_depthwise: bool = False


class BoxTask(task_lib.CenterNetTask):
  """Scale and offset heads per backbone stack.

  Args:
    num_feature_outputs: int, number of backbone stacks.
    params: BoxParams.
    localization_loss: fn(prediction, target, weights) -> per-element loss; default L1.
  """

  def __init__(self, num_feature_outputs, params=BoxParams(), localization_loss=None, **kwargs):
    super().__init__(**kwargs)
    self.params = params
    self.localization_loss = localization_loss or center_net_losses.l1
    self.scale_heads = [
        heads.make_prediction_net(2, params.scale_kernel_sizes, params.scale_num_filters,
                                  use_depthwise=params.use_depthwise, name=f"box_scale_{i}")
        for i in range(num_feature_outputs)]
    self.offset_heads = [
        heads.make_prediction_net(2, params.offset_kernel_sizes, params.offset_num_filters,
                                  use_depthwise=params.use_depthwise, name=f"box_offset_{i}")
        for i in range(num_feature_outputs)]

  def predict(self, features, training=False):
    """features: list of [B, h, w, C] -> {BOX_SCALE, BOX_OFFSET: lists of [B, h, w, 2]}."""
    self.check_num_features(features, len(self.scale_heads))
    return {
        BOX_SCALE: [h(f, training=training) for h, f in zip(self.scale_heads, features)],
        BOX_OFFSET: [h(f, training=training) for h, f in zip(self.offset_heads, features)],
    }

  def loss(self, predictions, groundtruth, context):
    """L1 at the GT centres, summed / (num_stacks * num_boxes), times the loss weights."""
    scale_preds = [tf.cast(x, tf.float32) for x in predictions[BOX_SCALE]]  # bf16 heads
    offset_preds = [tf.cast(x, tf.float32) for x in predictions[BOX_OFFSET]]
    _, height, width, _ = scale_preds[0].shape
    gt_weights = groundtruth[_GT.groundtruth_weights]
    indices, size_target, offset_target, weights = center_net_targets.box_size_and_offset_targets(
        groundtruth[_GT.groundtruth_boxes], gt_weights, height, width)
    weights = weights[..., None]
    scale_loss, offset_loss = 0.0, 0.0
    for scale_map, offset_map in zip(scale_preds, offset_preds):
      scale_at = center_net_targets.gather_at_indices(scale_map, indices)
      offset_at = center_net_targets.gather_at_indices(offset_map, indices)
      scale_loss += tf.reduce_sum(self.localization_loss(scale_at, size_target, weights))
      offset_loss += tf.reduce_sum(self.localization_loss(offset_at, offset_target, weights))
    denominator = float(len(scale_preds)) * center_net_targets.num_instances(gt_weights)
    weight = self.params.task_loss_weight
    return {
        fields.LossNames.box_scale: weight * self.params.scale_loss_weight *
                                    scale_loss / denominator,
        fields.LossNames.box_offset: weight * self.params.offset_loss_weight *
                                     offset_loss / denominator,
    }

  def postprocess(self, predictions, detections, context):
    """Decodes boxes at the peaks found by ObjectCenterTask (which must run first)."""
    if object_center_task.PEAK_Y_INDICES not in detections:
      raise ValueError("BoxTask.postprocess: no peaks in the detections (got keys "
                       f"{sorted(detections)}; expected ObjectCenterTask to run first)")
    strided = peaks.decode_boxes(
        detections[object_center_task.PEAK_Y_INDICES],
        detections[object_center_task.PEAK_X_INDICES],
        tf.cast(predictions[BOX_SCALE][-1], tf.float32),
        tf.cast(predictions[BOX_OFFSET][-1], tf.float32))
    return {
        _DET.detection_boxes_strided: strided,
        _DET.detection_boxes: peaks.strided_boxes_to_normalized(
            strided, context.stride, context.true_image_shapes),
    }
