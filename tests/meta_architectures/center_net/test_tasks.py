"""CenterNet heads and tasks on hand-made predictions: loss normalisation and decoding."""

import math

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.center_net import box_task
from object_detection.meta_architectures.center_net import heads
from object_detection.meta_architectures.center_net import object_center_task
from object_detection.meta_architectures.center_net import task as task_lib

G = fields.InputDataFields
D = fields.DetectionResultFields
L = fields.LossNames
LN2 = math.log(2.0)


def _context(true_shapes, stride=4):
  return task_lib.TaskContext(preprocessed_inputs=None,
                              true_image_shapes=tf.cast(true_shapes, tf.int32),
                              stride=stride, training=True)


def _maybe_graph(loss_fn, graph):
  """loss(predictions, groundtruth, true_shapes) eagerly or inside tf.function."""
  def run(preds, gt, true_shapes):
    return loss_fn(preds, gt, _context(true_shapes))
  return tf.function(run) if graph else run


def _gt(boxes, classes, weights):
  return {G.groundtruth_boxes: tf.constant(boxes, tf.float32),
          G.groundtruth_classes: tf.constant(classes, tf.float32),
          G.groundtruth_weights: tf.constant(weights, tf.float32)}


def test_prediction_head_shapes_and_bias_fill():
  head = heads.make_prediction_net(5, kernel_sizes=(3, 1), num_filters=(8, 6), bias_fill=-2.19)
  out = head(tf.zeros([2, 4, 4, 3]))
  assert out.shape == (2, 4, 4, 5)
  np.testing.assert_allclose(out.numpy(), -2.19, rtol=1e-6)  # zero input -> bias only
  assert [tuple(c.kernel.shape) for c in head.convs] == [(3, 3, 3, 8), (1, 1, 8, 6)]
  unit = heads.make_prediction_net(2, num_filters=(4,), unit_height_conv=True)
  unit(tf.zeros([1, 4, 4, 3]))
  assert tuple(unit.convs[0].kernel.shape) == (1, 3, 3, 4)
  with pytest.raises(ValueError, match="differ in length"):
    heads.make_prediction_net(2, kernel_sizes=(3, 3), num_filters=(4,))


def _center_task(num_outputs=2):
  return object_center_task.ObjectCenterTask(
      1, num_outputs, object_center_task.ObjectCenterParams(num_filters=(4,),
                                                            max_box_predictions=3))


@pytest.mark.parametrize("graph", [False, True])
def test_object_center_loss_normalisation(graph):
  # 16x16 input, stride 4 -> 4x4 grid. One 1x1-cell box at cell (1, 1): sigma = 1/6, so the
  # target is 1 at (1, 1) and < 1e-7 elsewhere. Zero logits (p = 0.5) give 0.25*ln2 per cell
  # (positive and negative alike). Two identical stacks / (2 stacks * 1 box).
  task = _center_task()
  gt = _gt([[[0.25, 0.25, 0.5, 0.5], [0, 0, 0, 0]]], [[[1.0], [0.0]]], [[1.0, 0.0]])
  preds = {object_center_task.OBJECT_CENTER: [tf.zeros([1, 4, 4, 1])] * 2}
  fn = _maybe_graph(task.loss, graph)
  full = fn(preds, gt, [[16, 16, 3]])[L.object_center]
  np.testing.assert_allclose(float(full), 16 * 0.25 * LN2, rtol=1e-5)
  # A true image of 16 x 8 pixels keeps the 8 cells of the left half.
  half = fn(preds, gt, [[16, 8, 3]])[L.object_center]
  np.testing.assert_allclose(float(half), 8 * 0.25 * LN2, rtol=1e-5)


def test_object_center_loss_weight_and_box_count():
  task = object_center_task.ObjectCenterTask(
      1, 1, object_center_task.ObjectCenterParams(object_center_loss_weight=3.0,
                                                  num_filters=(4,)))
  gt = _gt([[[0.25, 0.25, 0.5, 0.5], [0.0, 0.0, 0.25, 0.25]]], [[[1.0], [1.0]]], [[1.0, 1.0]])
  preds = {object_center_task.OBJECT_CENTER: [tf.zeros([1, 4, 4, 1])]}
  loss = task.loss(preds, gt, _context([[16, 16, 3]]))[L.object_center]
  np.testing.assert_allclose(float(loss), 3.0 * 16 * 0.25 * LN2 / 2.0, rtol=1e-5)


@pytest.mark.parametrize("graph", [False, True])
def test_box_losses_hand_computed(graph):
  # 32x32 input -> 8x8 grid. Box cells y 0.5..2.5, x 1..4: centre (1.5, 2.5), size (2, 3),
  # offset (0.5, 0.5), cell (1, 2). Predicted size 1 and offset 0 everywhere:
  # scale L1 = |1-2| + |1-3| = 3 (x 0.1), offset L1 = 1.0. The padded second box adds nothing.
  task = box_task.BoxTask(2, box_task.BoxParams(scale_num_filters=(4,), offset_num_filters=(4,)))
  gt = _gt([[[0.5 / 8, 1 / 8, 2.5 / 8, 4 / 8], [0.1, 0.1, 0.9, 0.9]]], [[[1.0], [0.0]]],
           [[1.0, 0.0]])
  preds = {box_task.BOX_SCALE: [tf.ones([1, 8, 8, 2])] * 2,
           box_task.BOX_OFFSET: [tf.zeros([1, 8, 8, 2])] * 2}
  losses = _maybe_graph(task.loss, graph)(preds, gt, [[32, 32, 3]])
  np.testing.assert_allclose(float(losses[L.box_scale]), 0.3, rtol=1e-5)
  np.testing.assert_allclose(float(losses[L.box_offset]), 1.0, rtol=1e-5)


def test_zero_groundtruth_box_losses_are_exactly_zero():
  task = box_task.BoxTask(1, box_task.BoxParams(scale_num_filters=(4,), offset_num_filters=(4,)))
  gt = _gt(np.zeros([2, 3, 4]), np.zeros([2, 3, 1]), np.zeros([2, 3]))
  preds = {box_task.BOX_SCALE: [tf.fill([2, 8, 8, 2], 5.0)],
           box_task.BOX_OFFSET: [tf.fill([2, 8, 8, 2], 5.0)]}
  losses = task.loss(preds, gt, _context([[32, 32, 3]] * 2))
  assert float(losses[L.box_scale]) == 0.0 and float(losses[L.box_offset]) == 0.0
  # The centre loss of an empty image is the background term only, divided by max(0, 1) = 1.
  center = _center_task(1)
  logits = tf.zeros([2, 8, 8, 1])
  loss = center.loss({object_center_task.OBJECT_CENTER: [logits]}, gt,
                     _context([[32, 32, 3]] * 2))[L.object_center]
  np.testing.assert_allclose(float(loss), 2 * 64 * 0.25 * LN2, rtol=1e-5)


def test_postprocess_decodes_peak_boxes():
  # 8x8 grid, stride 4, true image 32 x 16 (right half padded). Peaks: class 1 at (2, 1) with
  # logit 2 and class 0 at (5, 6) with logit 3, the latter in the padded region (masked out).
  boxes = box_task.BoxTask(1, box_task.BoxParams(scale_num_filters=(4,),
                                                 offset_num_filters=(4,)))
  center = object_center_task.ObjectCenterTask(
      2, 1, object_center_task.ObjectCenterParams(num_filters=(4,), max_box_predictions=3))
  logits = np.full([1, 8, 8, 2], -20.0, np.float32)
  logits[0, 2, 1, 1] = 2.0
  logits[0, 5, 6, 0] = 3.0
  size = np.zeros([1, 8, 8, 2], np.float32)
  offset = np.zeros([1, 8, 8, 2], np.float32)
  size[0, 2, 1] = [2.0, 2.0]
  offset[0, 2, 1] = [0.5, 0.5]
  preds = {object_center_task.OBJECT_CENTER: [tf.constant(logits)],
           box_task.BOX_SCALE: [tf.constant(size)], box_task.BOX_OFFSET: [tf.constant(offset)]}
  context = _context([[32, 16, 3]])
  dets = center.postprocess(preds, {}, context)
  dets.update(boxes.postprocess(preds, dets, context))
  sigmoid2 = 1.0 / (1.0 + math.exp(-2.0))
  np.testing.assert_allclose(dets[D.detection_scores].numpy()[0, 0], sigmoid2, rtol=1e-6)
  assert dets[D.detection_classes].dtype == tf.float32
  assert dets[D.detection_classes].numpy()[0, 0] == 1.0
  np.testing.assert_allclose(dets[D.detection_multiclass_scores].numpy()[0, 0],
                             [1.0 / (1.0 + math.exp(20.0)), sigmoid2], rtol=1e-5)
  # Centre (2.5, 1.5), size 2: strided [1.5, 0.5, 3.5, 2.5]; normalized by 32 x 16 pixels.
  np.testing.assert_allclose(dets[D.detection_boxes_strided].numpy()[0, 0], [1.5, 0.5, 3.5, 2.5])
  np.testing.assert_allclose(dets[D.detection_boxes].numpy()[0, 0],
                             [6 / 32, 2 / 16, 14 / 32, 10 / 16], rtol=1e-6)
  assert int(dets[D.num_detections][0]) == 3  # every score is > 0 after the sigmoid ...
  assert dets[D.detection_scores].numpy()[0, 1] < 1e-8  # ... but the masked peak is gone


def test_box_postprocess_needs_center_peaks():
  boxes = box_task.BoxTask(1)
  with pytest.raises(ValueError, match="ObjectCenterTask to run first"):
    boxes.postprocess({}, {}, _context([[8, 8, 3]]))


def test_head_count_must_match_backbone_outputs():
  with pytest.raises(ValueError, match="got 1 feature maps; expected 2"):
    _center_task(2).predict([tf.zeros([1, 4, 4, 3])])
