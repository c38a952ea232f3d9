"""A tiny Faster / Mask R-CNN (fake 2-conv backbone, 64x64 inputs) and synthetic ground truth."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.faster_rcnn import box_head
from object_detection.meta_architectures.faster_rcnn import mask_heads
from object_detection.meta_architectures.faster_rcnn import meta_arch
from object_detection.meta_architectures.faster_rcnn import postprocess
from object_detection.meta_architectures.faster_rcnn import proposal_generator
from object_detection.meta_architectures.faster_rcnn import roi_heads
from object_detection.meta_architectures.faster_rcnn import rpn
from object_detection.models import faster_rcnn_extractors
from object_detection.ops import anchors

F = fields.InputDataFields
NUM_CLASSES = 3


class TinyExtractor(faster_rcnn_extractors.FasterRCNNFeatureExtractor):
  """Stride-8 features (8 channels) and a 3x3 conv box classifier (16 channels)."""

  features_strides = (8,)

  def __init__(self):
    super().__init__(faster_rcnn_extractors.ExtractorParams(), True)
    self.c1 = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")
    self.c2 = keras.layers.Conv2D(8, 3, strides=4, padding="same", activation="relu")
    self.c3 = keras.layers.Conv2D(16, 3, padding="same", activation="relu")

  def preprocess(self, images):
    return images / 128.0 - 1.0

  def extract_proposal_features(self, images, training=False):
    return [self.c2(self.c1(images))]

  def extract_box_classifier_features(self, crops, training=False):
    return self.c3(crops)

  def classification_backbone(self):
    return {"c1": self.c1, "c2": self.c2}


def make_model(number_of_stages=2, mask_head="default", pre_nms_top_k=None, **overrides):
  """Builds the tiny model; `overrides` replace RoIHeads keyword arguments."""
  generator = proposal_generator.ProposalGenerator(
      rpn.RPNHead(6, depth=8),
      anchors.GridAnchorParams(scales=(0.125, 0.25), aspect_ratios=(0.5, 1.0, 2.0),
                               height_stride=8, width_stride=8, height_offset=4, width_offset=4),
      minibatch_size=32, max_proposals=24,
      pre_nms_top_k=pre_nms_top_k or proposal_generator.DEFAULT_PRE_NMS_TOP_K)
  if number_of_stages == 1:
    return meta_arch.FasterRCNNMetaArch(NUM_CLASSES, None, TinyExtractor(), generator)
  head = None
  if mask_head is not None:
    size = 8
    head = mask_heads.MaskRCNNMaskHead(mask_heads.MaskHeadParams(NUM_CLASSES, size, size, 2, 8)) \
        if mask_head == "default" else mask_head
  kwargs = dict(number_of_stages=number_of_stages, crop_size=8, maxpool_kernel_size=2,
                maxpool_stride=2, batch_size=8,
                nms=postprocess.NMSParams(max_detections_per_class=5, max_total_detections=10))
  kwargs.update(overrides)
  heads = roi_heads.RoIHeads(NUM_CLASSES, box_head.BoxHead(NUM_CLASSES), head, **kwargs)
  return meta_arch.FasterRCNNMetaArch(NUM_CLASSES, None, TinyExtractor(), generator, heads)


def make_groundtruth(batch=2, size=64, empty=False):
  """Two images: one box of class 0 / two boxes of classes 1 and 2 (padded to 2); rectangular
  masks filling the boxes. `empty`: every image has zero boxes."""
  boxes = np.array([[[0.1, 0.1, 0.5, 0.6], [0, 0, 0, 0]],
                    [[0.2, 0.3, 0.9, 0.8], [0.5, 0.0, 1.0, 0.4]]], np.float32)[:batch]
  classes = np.array([[[1, 0, 0], [0, 0, 0]], [[0, 1, 0], [0, 0, 1]]], np.float32)[:batch]
  weights = np.array([[1, 0], [1, 1]], np.float32)[:batch]
  if empty:
    boxes[:], classes[:], weights[:] = 0, 0, 0
  masks = np.zeros([batch, 2, size, size], np.uint8)
  for b in range(batch):
    for n in range(2):
      if weights[b, n]:
        y0, x0, y1, x1 = (boxes[b, n] * size).astype(int)
        masks[b, n, y0:y1, x0:x1] = 1
  return {F.groundtruth_boxes: tf.constant(boxes), F.groundtruth_classes: tf.constant(classes),
          F.groundtruth_weights: tf.constant(weights),
          F.groundtruth_instance_masks: tf.constant(masks),
          F.num_groundtruth_boxes: tf.constant(weights.sum(1).astype(np.int32))}


def make_images(batch=2, size=64, seed=0):
  return tf.constant(np.random.default_rng(seed).uniform(0, 255, [batch, size, size, 3]),
                     tf.float32)


@pytest.fixture
def tiny():
  """(make_model, make_groundtruth, make_images)."""
  keras.utils.set_random_seed(0)
  return make_model, make_groundtruth, make_images
