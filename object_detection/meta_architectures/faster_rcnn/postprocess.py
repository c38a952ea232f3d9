"""Second-stage decoding (refined boxes + class scores -> NMS'd detections) and the output
format of both stages (static shapes)."""

import dataclasses

import tensorflow as tf

from object_detection.core import fields
from object_detection.ops import box_coder
from object_detection.ops import box_ops
from object_detection.ops import nms

D = fields.DetectionResultFields


@dataclasses.dataclass(frozen=True)
class NMSParams:
  """`second_stage_post_processing` (post_processing.proto) as plain values."""
  score_threshold: float = 0.0
  iou_threshold: float = 0.6
  max_detections_per_class: int = 100
  max_total_detections: int = 100
  use_class_agnostic_nms: bool = False


def softmax_scores(class_logits):
  """The default score converter: softmax over the K + 1 classes."""
  return tf.nn.softmax(class_logits, axis=-1)


def decode_box_classifier(box_encodings, class_logits, proposals, num_proposals, windows,
                          params, score_fn=softmax_scores):
  """Decodes and suppresses the second-stage predictions.

  Args:
    box_encodings: [B, P, Q, 4] float32 codes relative to the proposals.
    class_logits: [B, P, K + 1] float32.
    proposals: [B, P, 4] float32 normalized to the padded input.
    num_proposals: [B] int32.
    windows: [B, 4] float32 normalized true-image windows (boxes are clipped to them).
    params: NMSParams.
    score_fn: the score converter, [..., K + 1] logits -> [..., K + 1] scores.
  Returns:
    dict: boxes [B, D, 4] (padded-input frame), scores [B, D], classes [B, D] int32 0-based,
      box_indices [B, D] int32 proposal index, num_detections [B] int32,
      raw_boxes [B, P, 4] (best-class box), raw_scores [B, P, K].
  """
  decoded = box_coder.decode(box_encodings, proposals[:, :, None, :])
  b, p, q = tf.shape(decoded)[0], decoded.shape[1], decoded.shape[2]
  decoded = tf.reshape(box_ops.clip_to_window(tf.reshape(decoded, [b, p * q, 4]), windows),
                       [b, p, q, 4])
  scores = score_fn(class_logits)[..., 1:]
  valid = tf.range(p)[None, :] < num_proposals[:, None]
  nms_scores = tf.where(valid[..., None], scores, -1.0)
  out = nms.batch_multiclass_nms(decoded, nms_scores, params.score_threshold,
                                 params.iou_threshold, params.max_detections_per_class,
                                 params.max_total_detections, params.use_class_agnostic_nms)
  if q == 1:
    raw = decoded[:, :, 0]
  else:
    raw = tf.gather(decoded, tf.argmax(scores, axis=-1, output_type=tf.int32), axis=2,
                    batch_dims=2)
  out["raw_boxes"] = raw
  out["raw_scores"] = scores
  return out


def to_true_frame(boxes, windows):
  """[B, N, 4] boxes normalized to the padded input -> normalized to the true image (the
  window), clipped to [0, 1]. windows: [B, 4] float32."""
  return tf.clip_by_value(box_ops.change_coordinate_frame(boxes, windows), 0.0, 1.0)


def format_detections(boxes, scores, classes, num, windows):
  """The exported detection fields; boxes past `num` are zeros.

  Args:
    boxes: [B, D, 4] float32 normalized to the padded input. scores: [B, D] float32.
    classes: [B, D] int32 0-based. num: [B] int32. windows: [B, 4] float32.
  Returns:
    {detection_boxes [B, D, 4] (true-image frame), detection_scores, detection_classes
     [B, D] float32, num_detections [B] int32}.
  """
  valid = tf.range(boxes.shape[1])[None, :] < num[:, None]
  boxes = tf.where(valid[..., None], to_true_frame(boxes, windows), 0.0)
  return {D.detection_boxes: boxes, D.detection_scores: scores,
          D.detection_classes: tf.cast(classes, tf.float32), D.num_detections: num}
