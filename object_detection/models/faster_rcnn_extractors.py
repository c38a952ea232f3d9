"""Faster R-CNN feature extractors (registered in FASTER_RCNN_FEATURE_EXTRACTORS).

An extractor has two halves, as the original's FasterRCNNKerasFeatureExtractor:
  extract_proposal_features(images, training) -> list of RPN feature maps (1, or one per FPN
    level finest first); the RPN runs on each and RoIs are cropped from them.
  extract_box_classifier_features(crops, training) -> [N, h, w, C] per-RoI features for the
    box (and default mask) head.
Networks are built with random weights (never downloaded); `restore_map("classification")`
names the backbone for a classification checkpoint.

Registered names: faster_rcnn_resnet{50,101,152}_keras, faster_rcnn_resnet{50,101,152}_fpn_keras,
faster_rcnn_inception_resnet_v2_keras.
"""

import dataclasses

import keras
import tensorflow as tf

from object_detection.core import registries
from object_detection.models import faster_rcnn_resnet_v1
from object_detection.models.fpn import FeaturePyramid
from object_detection.core.tracking import CheckpointableCollections

_RESNET_MEANS = (123.68, 116.779, 103.939)


@dataclasses.dataclass(frozen=True)
class ExtractorParams:
  """Plain values from FasterRcnnFeatureExtractor (faster_rcnn.proto), defaults as the proto."""
  first_stage_features_stride: int = 16
  batch_norm_trainable: bool = False
  fpn_min_level: int = 2
  fpn_max_level: int = 6
  fpn_additional_layer_depth: int = 256


class FasterRCNNFeatureExtractor(CheckpointableCollections, keras.layers.Layer):
  """Base class; subclasses set `self.backbone` layers in `__init__`.

  Attributes:
    features_strides: list of ints, input pixels per cell of each proposal feature map.
    batch_norm_trainable: False runs the backbone's batch norm in inference mode always (its
      variables still exist and are trainable, as the original's frozen batch norm).
  """

  features_strides = (16,)

  def __init__(self, params, is_training, **kwargs):
    super().__init__(**kwargs)
    self.params = params
    self.is_training = is_training
    self.batch_norm_trainable = params.batch_norm_trainable

  def _bn_training(self, training):
    return bool(training) and self.batch_norm_trainable

  def preprocess(self, images):
    """[B, H, W, 3] float32 raw RGB [0, 255] -> network input."""
    raise NotImplementedError

  def extract_proposal_features(self, images, training=False):
    raise NotImplementedError

  def extract_box_classifier_features(self, crops, training=False):
    raise NotImplementedError

  def features_to_crop(self, proposal_features):
    """The proposal feature maps RoIs are cropped from (all of them by default)."""
    return proposal_features

  def classification_backbone(self):
    """{name: trackable} restored from a classification checkpoint."""
    raise NotImplementedError

  def restore_map(self, kind):
    if kind == "classification":
      return self.classification_backbone()
    if kind in ("detection", "fine_tune", "full"):
      return {"feature_extractor": self}
    raise ValueError(f"restore_map: unknown checkpoint type (got {kind!r}; expected "
                     "classification, detection, fine_tune or full)")


def _stride_problems(params, name, allowed=(16,)):
  if params.first_stage_features_stride not in allowed:
    return [f"first_stage_features_stride: unsupported by {name} (got "
            f"{params.first_stage_features_stride}; expected one of {sorted(allowed)})"]
  return []


def _fpn_problems(params, name):
  if params.fpn_min_level < 2 or params.fpn_max_level < params.fpn_min_level:
    return [f"fpn: invalid fpn levels for {name} (got min_level {params.fpn_min_level}, "
            f"max_level {params.fpn_max_level}; expected 2 <= min <= max)"]
  return []


def param_problems(extractor_type, params):
  """Problems of ExtractorParams for a registered extractor type, as `<field>: <problem>`
  lines (the extractor's constructor raises the first; builders/faster_rcnn_builder.check
  reports them without building the network)."""
  if extractor_type.endswith("_fpn_keras"):
    return _fpn_problems(params, extractor_type)
  return _stride_problems(params, extractor_type)


def _raise_first(problems):
  if problems:
    raise ValueError(problems[0])


class ResNetExtractor(FasterRCNNFeatureExtractor):
  """ResNet v1: RPN on conv4 (stride 16, 1024 ch); conv5 (2048 ch) as box classifier."""

  def __init__(self, depth, params, is_training, **kwargs):
    super().__init__(params, is_training, **kwargs)
    _raise_first(_stride_problems(params, f"faster_rcnn_resnet{depth}_keras"))
    self.first_stage, self.second_stage = faster_rcnn_resnet_v1.resnet_v1_stages(depth)

  def preprocess(self, images):
    return images - tf.constant(_RESNET_MEANS, images.dtype)

  def extract_proposal_features(self, images, training=False):
    return [self.first_stage(images, training=self._bn_training(training))[2]]

  def extract_box_classifier_features(self, crops, training=False):
    return self.second_stage(crops, training=self._bn_training(training))

  def classification_backbone(self):
    return {"first_stage": self.first_stage, "second_stage": self.second_stage}


class ResNetFPNExtractor(FasterRCNNFeatureExtractor):
  """ResNet v1 + FPN: RPN on every level min..max; box classifier = flatten -> fc 1024 -> ReLU
  -> fc 1024 -> ReLU, returned as [N, 1, 1, 1024] (the original's FPN box classifier)."""

  def __init__(self, depth, params, is_training, **kwargs):
    super().__init__(params, is_training, **kwargs)
    _raise_first(_fpn_problems(params, f"faster_rcnn_resnet{depth}_fpn_keras"))
    self.first_stage, conv5 = faster_rcnn_resnet_v1.resnet_v1_stages(depth)
    self.conv5 = conv5
    self.fpn = FeaturePyramid(params.fpn_min_level, params.fpn_max_level, 5,
                              params.fpn_additional_layer_depth)
    self.box_classifier = [keras.layers.Flatten(),
                           keras.layers.Dense(1024, activation="relu", name="fc6"),
                           keras.layers.Dense(1024, activation="relu", name="fc7")]
    self.features_strides = tuple(2 ** l for l in range(params.fpn_min_level,
                                                        params.fpn_max_level + 1))

  def preprocess(self, images):
    return images - tf.constant(_RESNET_MEANS, images.dtype)

  def extract_proposal_features(self, images, training=False):
    bn_training = self._bn_training(training)
    c2, c3, c4 = self.first_stage(images, training=bn_training)
    c5 = self.conv5(c4, training=bn_training)
    levels = {2: c2, 3: c3, 4: c4, 5: c5}
    return self.fpn({l: f for l, f in levels.items() if l >= self.params.fpn_min_level})

  def features_to_crop(self, proposal_features):
    """Levels min..min(max, 5): RoIs are cropped from P2-P5 as in the FPN paper (a 224-pixel
    box lands on P4 with the level rule's unit_scale_index = num_levels - 2); the coarser
    levels only feed the RPN."""
    keep = max(1, min(self.params.fpn_max_level, 5) - self.params.fpn_min_level + 1)
    return proposal_features[:keep]

  def extract_box_classifier_features(self, crops, training=False):
    net = crops
    for layer in self.box_classifier:
      net = layer(net)
    return net[:, None, None, :]

  def classification_backbone(self):
    return {"first_stage": self.first_stage, "second_stage": self.conv5}


def _same_padding(layer):
  """clone_model hook: 'valid' convs / pools become 'same' (the original's align_feature_maps)."""
  config = layer.get_config()
  pooling = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
  if config.get("padding") == "valid" and isinstance(layer, (keras.layers.Conv2D,) + pooling):
    config["padding"] = "same"
  return layer.__class__.from_config(config)


class InceptionResNetV2Extractor(FasterRCNNFeatureExtractor):
  """keras.applications InceptionResNetV2 split after block17_20 (stride 16, 1088 ch); the
  rest (mixed_7a, block8 x 10, conv_7b: 1536 ch) is the box classifier.

  As the original (align_feature_maps=True), every 'valid' conv / pool is made 'same', so the
  proposal features are ceil(H / 16) x ceil(W / 16) (64 x 64 at 1024) and a 17 x 17 crop gives
  9 x 9 box classifier features. Parameter counts are keras.applications' (identical).
  """

  def __init__(self, params, is_training, **kwargs):
    super().__init__(params, is_training, **kwargs)
    _raise_first(_stride_problems(params, "faster_rcnn_inception_resnet_v2_keras"))
    full = keras.models.clone_model(
        keras.applications.InceptionResNetV2(include_top=False, weights=None,
                                             input_shape=(None, None, 3)),
        clone_function=_same_padding)
    split = full.get_layer("block17_20_ac").output
    self.first_stage = keras.Model(full.input, split, name="inception_resnet_v2_to_block17")
    self.second_stage = keras.Model(split, full.output, name="inception_resnet_v2_block8")

  def preprocess(self, images):
    return images * (2.0 / 255.0) - 1.0

  def extract_proposal_features(self, images, training=False):
    return [self.first_stage(images, training=self._bn_training(training))]

  def extract_box_classifier_features(self, crops, training=False):
    return self.second_stage(crops, training=self._bn_training(training))

  def classification_backbone(self):
    return {"first_stage": self.first_stage, "second_stage": self.second_stage}


def _register_resnets():
  for depth in (50, 101, 152):
    def single(params, is_training, depth=depth):
      return ResNetExtractor(depth, params, is_training)

    def fpn(params, is_training, depth=depth):
      return ResNetFPNExtractor(depth, params, is_training)
    registries.FASTER_RCNN_FEATURE_EXTRACTORS.register(f"faster_rcnn_resnet{depth}_keras")(single)
    registries.FASTER_RCNN_FEATURE_EXTRACTORS.register(f"faster_rcnn_resnet{depth}_fpn_keras")(fpn)


_register_resnets()


@registries.FASTER_RCNN_FEATURE_EXTRACTORS.register("faster_rcnn_inception_resnet_v2_keras")
def _inception_resnet_v2(params, is_training):
  return InceptionResNetV2Extractor(params, is_training)
