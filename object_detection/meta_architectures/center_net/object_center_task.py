"""The object-centre task: per-class centre heatmaps, focal loss, peak extraction.

Predictions: {OBJECT_CENTER: list (one per backbone stack) of [B, h, w, num_classes] logits}.
Loss: {LossNames.object_center}. Postprocess: scores, 0-based classes, multiclass scores,
num_detections, plus the peak cells under private keys (PEAK_Y_INDICES, PEAK_X_INDICES) that the
box task (and DeepMAC) read; the meta-architecture drops private keys ("_" prefix) at the end.
"""

import dataclasses
import functools

import tensorflow as tf

from object_detection.core import fields
from object_detection.losses import center_net as center_net_losses
from object_detection.meta_architectures.center_net import heads
from object_detection.meta_architectures.center_net import task as task_lib
from object_detection.ops import center_net_targets
from object_detection.ops import heatmaps
from object_detection.ops import peaks

OBJECT_CENTER = "object_center"
PEAK_Y_INDICES = "_center_net/peak_y_indices"
PEAK_X_INDICES = "_center_net/peak_x_indices"

_GT = fields.InputDataFields
_DET = fields.DetectionResultFields


@dataclasses.dataclass(frozen=True)
class ObjectCenterParams:
  """ObjectCenterParams of center_net.proto (defaults are the proto's).

  Attributes:
    object_center_loss_weight: float, multiplies the normalised focal loss.
    heatmap_bias_init: float, initial bias of the heatmap head's last conv (-2.19).
    min_box_overlap_iou: float, Gaussian radius IoU (0.7).
    max_box_predictions: int, top-k peaks at inference (100).
    peak_max_pool_kernel_size: int, max-pool size of the peak test (3).
    kernel_sizes, num_filters: the head's hidden convs (default one 3x3 conv of 256).
    use_depthwise: bool, separable hidden convs.
  """
  object_center_loss_weight: float = 1.0
  heatmap_bias_init: float = -2.19
  min_box_overlap_iou: float = 0.7
  max_box_predictions: int = 100
  peak_max_pool_kernel_size: int = 3
  kernel_sizes: tuple = (3,)
  num_filters: tuple = (256,)
  use_depthwise: bool = False


class ObjectCenterTask(task_lib.CenterNetTask):
  """Centre heatmap head per backbone stack, its target, loss and decoding.

  Args:
    num_classes: int.
    num_feature_outputs: int, number of backbone stacks (one head per stack).
    params: ObjectCenterParams.
    classification_loss: fn(logits, target, weights) -> per-element loss; default the
      penalty-reduced logistic focal loss with alpha 2, beta 4.
  """

  def __init__(self, num_classes, num_feature_outputs, params=ObjectCenterParams(),
               classification_loss=None, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.params = params
    self.classification_loss = classification_loss or functools.partial(
        center_net_losses.penalty_reduced_logistic_focal_loss, alpha=2.0, beta=4.0)
    self.center_heads = [
        heads.make_prediction_net(
            num_classes, params.kernel_sizes, params.num_filters,
            bias_fill=params.heatmap_bias_init, use_depthwise=params.use_depthwise,
            name=f"center_{i}")
        for i in range(num_feature_outputs)]

  def predict(self, features, training=False):
    """features: list of [B, h, w, C] -> {OBJECT_CENTER: list of [B, h, w, num_classes]}."""
    self.check_num_features(features, len(self.center_heads))
    return {OBJECT_CENTER: [head(f, training=training)
                            for head, f in zip(self.center_heads, features)]}

  def targets(self, groundtruth, output_height, output_width):
    """[B, h, w, num_classes] float32 Gaussian heatmap of the batched ground truth."""
    return heatmaps.center_heatmap_targets(
        groundtruth[_GT.groundtruth_boxes], groundtruth[_GT.groundtruth_classes],
        groundtruth[_GT.groundtruth_weights], output_height, output_width,
        min_overlap=self.params.min_box_overlap_iou)

  def loss(self, predictions, groundtruth, context):
    """Focal loss summed over stacks, pixels, classes / (num_stacks * num_boxes), weighted."""
    logits = [tf.cast(x, tf.float32) for x in predictions[OBJECT_CENTER]]  # bf16 heads
    _, height, width, _ = logits[0].shape
    target = self.targets(groundtruth, height, width)
    valid = center_net_targets.valid_output_region(
        context.true_image_shapes, height, width, context.stride)[..., None]
    total = 0.0
    for stack_logits in logits:
      total += tf.reduce_sum(self.classification_loss(stack_logits, target, valid))
    num_boxes = center_net_targets.num_instances(groundtruth[_GT.groundtruth_weights])
    loss = total / (float(len(logits)) * num_boxes)
    return {fields.LossNames.object_center: self.params.object_center_loss_weight * loss}

  def postprocess(self, predictions, detections, context):
    """Peaks of the last stack's sigmoid heatmap (masked to the true image)."""
    logits = tf.cast(predictions[OBJECT_CENTER][-1], tf.float32)
    _, height, width, _ = logits.shape
    valid = center_net_targets.valid_output_region(
        context.true_image_shapes, height, width, context.stride)[..., None]
    probs = tf.sigmoid(logits) * valid
    scores, ys, xs, classes = peaks.top_k_peaks(
        probs, self.params.max_box_predictions, self.params.peak_max_pool_kernel_size)
    multiclass = tf.gather_nd(probs, tf.stack([ys, xs], axis=-1), batch_dims=1)
    return {
        _DET.detection_scores: scores,
        _DET.detection_classes: tf.cast(classes, tf.float32),
        _DET.detection_multiclass_scores: multiclass,
        _DET.num_detections: tf.reduce_sum(tf.cast(scores > 0.0, tf.int32), axis=1),
        PEAK_Y_INDICES: ys,
        PEAK_X_INDICES: xs,
    }
