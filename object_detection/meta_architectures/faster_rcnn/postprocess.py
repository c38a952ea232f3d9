"""Second-stage decoding: refined boxes + class scores -> NMS'd detections (static shapes)."""

import dataclasses

import tensorflow as tf

from object_detection.ops import box_coder
from object_detection.ops import box_ops
from object_detection.ops import nms


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
