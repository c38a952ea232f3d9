"""Every name registry of the package, in one light module (no TensorFlow import here).

Implementing modules register into these at import time; `load_all()` imports them so that
validation and builders see every entry. Each registry's doc says how its entries are called.
The registries are how low layers reach high ones without importing them: config/validation.py
runs the builders' checks through META_ARCHITECTURES.
"""

import importlib

from object_detection.core.registry import Registry

META_ARCHITECTURES = Registry(
    "meta-architecture",
    "adapter module of a DetectionModel oneof: check(message, problems, path) adds every "
    "problem of the message; build(message, is_training) -> DetectionModel")
CENTER_NET_FEATURE_EXTRACTORS = Registry(
    "CenterNet feature extractor",
    "fn(feature_extractor_config: CenterNetFeatureExtractor proto-derived params, "
    "is_training: bool) -> CenterNet feature extractor layer")
DEEPMAC_MASK_NETWORKS = Registry(
    "DeepMAC mask network_type",
    "mask_networks.MaskNetworkType: build(num_init_channels, mask_size) -> keras layer "
    "net(inputs [N, S, S, C_in], training) -> [N, S, S, C] (or a list), its parameter-free "
    "logits (or None: MaskHeadNetwork adds a 1x1 project_out) and its requirements")
FASTER_RCNN_FEATURE_EXTRACTORS = Registry(
    "Faster R-CNN feature extractor",
    "fn(params, is_training) -> Faster R-CNN feature extractor")
MASK_RCNN_MASK_HEADS = Registry(
    "Mask R-CNN mask head", "fn(params) -> keras.layers.Layer")
AUGMENTATIONS = Registry(
    "data augmentation (PreprocessingStep)",
    "fn(step_message, problems, path) -> callable(tensor_dict, seed) -> tensor_dict")
IMAGE_RESIZERS = Registry(
    "image resizer",
    "fn(resizer_message, problems, path) -> fn(image [H,W,C], masks=None) -> "
    "(resized, masks_or_None, true_image_shape [3])")
LOSSES = Registry("loss", "fn(loss_message) -> loss callable")
EVAL_METRICS = Registry(
    "eval metrics_set",
    "fn(categories, include_metrics_per_category=False, super_categories=None, "
    "mask_supervised_class_ids=None) -> evaluator")
OPTIMIZERS = Registry("optimizer", "fn(optimizer_message, learning_rate) -> keras optimizer")
LEARNING_RATES = Registry("learning rate", "fn(learning_rate_message) -> schedule")

# Modules that register entries. Listed by name so importing this module stays cheap.
_IMPLEMENTATIONS = (
    "object_detection.builders.model_builder",
    "object_detection.models.center_net_extractors",
    "object_detection.models.center_net_mobilenet_v2",
    "object_detection.models.center_net_resnet_v2",
    "object_detection.meta_architectures.deepmac.mask_networks",
    "object_detection.models.faster_rcnn_extractors",
    "object_detection.meta_architectures.faster_rcnn.mask_heads",
    "object_detection.builders.preprocessor_builder",
    "object_detection.builders.image_resizer_builder",
    "object_detection.builders.losses_builder",
    "object_detection.builders.optimizer_builder",
    "object_detection.eval.metrics",
)


def load_all():
  """Imports every implementing module (idempotent)."""
  for name in _IMPLEMENTATIONS:
    try:
      importlib.import_module(name)
    except ModuleNotFoundError as e:
      if e.name != name:  # a real missing dependency inside the module: surface it
        raise
