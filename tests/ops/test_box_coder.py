"""Faster R-CNN box coder: hand-computed codes and a round trip."""

import numpy as np
import tensorflow as tf

from object_detection.ops import box_coder


def test_encode_by_hand():
  anchors = tf.constant([[0.0, 0.0, 2.0, 2.0]])
  boxes = tf.constant([[1.0, 0.0, 5.0, 2.0]])   # centre (3, 1), size 4x2
  codes = box_coder.encode(boxes, anchors).numpy()
  np.testing.assert_allclose(codes, [[10 * 2 / 2, 0.0, 5 * np.log(2.0), 0.0]], rtol=1e-5)
  unscaled = box_coder.encode(boxes, anchors, scale_factors=None).numpy()
  np.testing.assert_allclose(unscaled, [[1.0, 0.0, np.log(2.0), 0.0]], rtol=1e-5)


def test_round_trip_eager_and_graph():
  rng = np.random.default_rng(0)
  ymin, xmin = rng.uniform(0, 0.5, (2, 6))
  anchors = tf.constant(np.stack([ymin, xmin, ymin + 0.3, xmin + 0.2], -1), tf.float32)
  boxes = tf.constant(np.stack([xmin, ymin, xmin + 0.4, ymin + 0.1], -1), tf.float32)
  fn = lambda b, a: box_coder.decode(box_coder.encode(b, a), a)
  np.testing.assert_allclose(fn(boxes, anchors).numpy(), boxes.numpy(), atol=1e-5)
  np.testing.assert_allclose(tf.function(fn)(boxes, anchors).numpy(), boxes.numpy(), atol=1e-5)


def test_decode_is_finite_for_huge_codes():
  out = box_coder.decode(tf.constant([[0.0, 0.0, 1e4, 1e4]]), tf.constant([[0.0, 0.0, 1.0, 1.0]]))
  assert np.all(np.isfinite(out.numpy()))
