"""A tiny CenterNet (hourglass_10 with 4 channels, 8-filter heads) shared by these tests."""

import pytest
import tensorflow as tf

from object_detection.core import fields
from object_detection.meta_architectures.center_net import box_task
from object_detection.meta_architectures.center_net import meta_arch
from object_detection.meta_architectures.center_net import object_center_task
from object_detection.models import center_net_extractors
from object_detection.models import hourglass_network

G = fields.InputDataFields


def pad_resizer(size):
  """Scales the longer side to `size` keeping the aspect ratio, pads bottom/right to size^2."""
  def resize(image, masks=None):
    shape = tf.shape(image)[:2]
    scale = size / tf.cast(tf.reduce_max(shape), tf.float32)
    new = tf.cast(tf.round(tf.cast(shape, tf.float32) * scale), tf.int32)
    resized = tf.image.resize(image, new)
    padded = tf.image.pad_to_bounding_box(resized, 0, 0, size, size)
    return padded, masks, tf.concat([new, [3]], axis=0)
  return resize


def tiny_center_net(num_classes=3, size=64, num_channels=4, filters=8):
  extractor = center_net_extractors.HourglassFeatureExtractor(
      hourglass_network.hourglass_10(num_channels), channel_means=(120.0, 110.0, 100.0),
      channel_stds=(60.0, 60.0, 60.0), bgr_ordering=True)
  tasks = [
      object_center_task.ObjectCenterTask(
          num_classes, 1, object_center_task.ObjectCenterParams(num_filters=(filters,),
                                                                max_box_predictions=10)),
      box_task.BoxTask(1, box_task.BoxParams(scale_num_filters=(filters,),
                                             offset_num_filters=(filters,))),
  ]
  return meta_arch.CenterNetMetaArch(num_classes, extractor, pad_resizer(size), tasks)


def groundtruth(boxes, classes, weights, num_classes=3):
  return {G.groundtruth_boxes: tf.constant(boxes, tf.float32),
          G.groundtruth_classes: tf.one_hot(classes, num_classes) *
                                 tf.cast(tf.constant(weights)[..., None] > 0, tf.float32),
          G.groundtruth_weights: tf.constant(weights, tf.float32)}


@pytest.fixture
def tiny_model():
  return tiny_center_net()


@pytest.fixture
def make_tiny_model():
  """Factory: make_tiny_model(num_classes=3, size=64, num_channels=4, filters=8)."""
  return tiny_center_net


@pytest.fixture
def make_groundtruth():
  """Factory: make_groundtruth(boxes [B,N,4], class indices [B,N], weights [B,N], num_classes=3)."""
  return groundtruth
