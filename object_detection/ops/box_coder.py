"""Faster R-CNN box coder: boxes <-> (ty, tx, th, tw) offsets relative to anchors.

    ty = (yc - yc_a) / h_a * sy     tx = (xc - xc_a) / w_a * sx
    th = log(h / h_a) * sh          tw = log(w / w_a) * sw

with scale factors (sy, sx, sh, sw) = (10, 10, 5, 5) by default in both stages of the original
(`faster_rcnn_box_coder.proto`); `scale_factors=None` means no scaling. As the original, 1e-8 is
added to every height and width so degenerate boxes encode to finite numbers.
"""

import tensorflow as tf

from object_detection.ops import box_ops

_EPSILON = 1e-8
# exp() of a larger log-scale would give boxes 22026x their anchor: clamp so a diverging
# predictor produces huge but finite boxes instead of inf/nan (the original does not clamp).
_MAX_LOG_SCALE = 10.0

DEFAULT_SCALE_FACTORS = (10.0, 10.0, 5.0, 5.0)
CODE_SIZE = 4


def encode(boxes, anchors, scale_factors=DEFAULT_SCALE_FACTORS):
  """Encodes boxes relative to anchors.

  Args:
    boxes: [..., N, 4] float32 corners, any frame.
    anchors: [..., N, 4] float32 corners in the same frame (broadcastable to `boxes`).
    scale_factors: 4 floats (sy, sx, sh, sw) or None.
  Returns:
    [..., N, 4] float32 codes (ty, tx, th, tw).
  """
  yca, xca, ha, wa = box_ops.to_center_size(anchors)
  yc, xc, h, w = box_ops.to_center_size(boxes)
  ha, wa, h, w = ha + _EPSILON, wa + _EPSILON, h + _EPSILON, w + _EPSILON
  ty = (yc - yca) / ha
  tx = (xc - xca) / wa
  th = tf.math.log(h / ha)
  tw = tf.math.log(w / wa)
  codes = tf.stack([ty, tx, th, tw], axis=-1)
  if scale_factors:
    codes = codes * tf.constant(scale_factors, codes.dtype)
  return codes


def decode(codes, anchors, scale_factors=DEFAULT_SCALE_FACTORS):
  """Inverse of `encode`.

  Args:
    codes: [..., N, 4] float32 (ty, tx, th, tw).
    anchors: [..., N, 4] float32 corners (broadcastable to `codes`).
    scale_factors: 4 floats (sy, sx, sh, sw) or None.
  Returns:
    [..., N, 4] float32 corners in the anchors' frame.
  """
  if scale_factors:
    codes = codes / tf.constant(scale_factors, codes.dtype)
  ty, tx, th, tw = tf.unstack(codes, axis=-1)
  yca, xca, ha, wa = box_ops.to_center_size(anchors)
  ha, wa = ha + _EPSILON, wa + _EPSILON
  h = tf.exp(tf.minimum(th, _MAX_LOG_SCALE)) * ha
  w = tf.exp(tf.minimum(tw, _MAX_LOG_SCALE)) * wa
  return box_ops.from_center_size(ty * ha + yca, tx * wa + xca, h, w)

