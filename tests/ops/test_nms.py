"""NMS on overlapping boxes: single class (RPN) and batch multi-class (second stage)."""

import numpy as np
import tensorflow as tf

from object_detection.ops import nms

BOXES = tf.constant([[[0.0, 0.0, 1.0, 1.0],
                      [0.0, 0.0, 0.9, 1.0],     # IoU 0.9 with box 0
                      [0.0, 0.5, 1.0, 1.5],     # IoU 1/3 with box 0
                      [2.0, 2.0, 3.0, 3.0]]])
SCORES = tf.constant([[0.9, 0.8, 0.7, 0.1]])


def test_single_class_eager_graph_xla():
  fn = lambda b, s: nms.single_class_nms(b, s, 3, 0.5)
  for f in (fn, tf.function(fn), tf.function(fn, jit_compile=True)):
    idx, valid, num = f(BOXES, SCORES)
    np.testing.assert_array_equal(idx.numpy(), [[0, 2, 3]])
    np.testing.assert_array_equal(valid.numpy(), [[True, True, True]])
    np.testing.assert_array_equal(num.numpy(), [3])


def test_single_class_padding():
  idx, valid, num = nms.single_class_nms(BOXES, SCORES, 5, 0.2, score_threshold=0.5)
  np.testing.assert_array_equal(idx.numpy(), [[0, 0, 0, 0, 0]])
  np.testing.assert_array_equal(valid.numpy(), [[True, False, False, False, False]])
  assert num.numpy()[0] == 1


def test_multiclass_per_class_then_top_k():
  scores = tf.stack([SCORES[0], 1.0 - SCORES[0]], axis=-1)[None]   # class 1 favours box 3
  fn = lambda b, s: nms.batch_multiclass_nms(b[:, :, None], s, 0.15, 0.5, 2, 3)
  for f in (fn, tf.function(fn)):
    out = f(BOXES, scores)
    np.testing.assert_allclose(out["scores"].numpy(), [[0.9, 0.9, 0.7]], rtol=1e-6)
    np.testing.assert_array_equal(out["classes"].numpy(), [[0, 1, 0]])
    np.testing.assert_array_equal(out["box_indices"].numpy(), [[0, 3, 2]])
    np.testing.assert_array_equal(out["num_detections"].numpy(), [3])


def test_multiclass_class_specific_boxes_and_padding():
  boxes = tf.constant([[[[0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.6, 0.6]]]])   # 1 box, 2 classes
  scores = tf.constant([[[0.2, 0.6]]])
  out = nms.batch_multiclass_nms(boxes, scores, 0.5, 0.5, 1, 4)
  np.testing.assert_array_equal(out["num_detections"].numpy(), [1])
  np.testing.assert_allclose(out["boxes"].numpy()[0, 0], [0.5, 0.5, 0.6, 0.6])
  np.testing.assert_array_equal(out["boxes"].numpy()[0, 1:], 0.0)
  assert out["scores"].shape == (1, 4)


def test_class_agnostic():
  scores = tf.stack([SCORES[0], 1.0 - SCORES[0]], axis=-1)[None]
  out = nms.batch_multiclass_nms(BOXES[:, :, None], scores, 0.15, 0.5, 4, 4,
                                 class_agnostic=True)
  np.testing.assert_array_equal(out["box_indices"].numpy()[0, :3], [0, 3, 2])
  np.testing.assert_array_equal(out["classes"].numpy()[0, :3], [0, 1, 0])
