"""Models of the experiment, built from `novel_class.config` through the library's builders.

    pipeline = load_pipeline(HEADS["hourglass52"], mask_size=32, allowed=shapes.SEEN_IDS)
    model = build(pipeline)                     # model_builder.build(pipeline.model, True)
    init_from_detector(detector, model)         # every arm starts from the same detector

Every arm differs from the file only by `key=value` overrides of the deepmac_mask_estimation
block (network_type, num_init_channels, mask_size, allowed_masked_classes_ids, ...), so the
runner only depends on the config schema and `model_builder.build`.
"""

import os

import numpy as np
import tensorflow as tf

from object_detection.builders import model_builder
from object_detection.builders import optimizer_builder
from object_detection.config import loader

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "novel_class.config")
DEEPMAC = "model.center_net.deepmac_mask_estimation"

# Head name -> overrides of the deepmac_mask_estimation block. The parameter-free
# embedding_projection head is a dot product of the instance and pixel embeddings, so it takes
# no xy / instance-embedding inputs and needs dim == pixel_embedding_dim (config validation).
HEADS = {
    "resnet4": {"network_type": "resnet4"},
    "resnet8": {"network_type": "resnet8"},
    "embedding_projection": {"network_type": "embedding_projection", "use_xy": False,
                             "use_instance_embedding": False, "dim": 16},
    "hourglass20": {"network_type": "hourglass20"},
    "hourglass52": {"network_type": "hourglass52"},
}


def load_pipeline(head_overrides, mask_size, allowed, num_init_channels=None, steps=None,
                  batch_size=None, learning_rate=None, image_size=None, extra=None):
  """The experiment's TrainEvalPipelineConfig with one arm's overrides (validated).

  Args:
    head_overrides: dict of deepmac_mask_estimation fields (HEADS[name]).
    mask_size: int. allowed: 1-based class ids with mask labels.
    num_init_channels, steps, batch_size, learning_rate, image_size: optional overrides.
    extra: optional dict of further `dotted.path: value` overrides.
  """
  overrides = {f"{DEEPMAC}.{k}": v for k, v in head_overrides.items()}
  overrides[f"{DEEPMAC}.mask_size"] = mask_size
  overrides[f"{DEEPMAC}.allowed_masked_classes_ids"] = list(allowed)
  if num_init_channels is not None:
    overrides[f"{DEEPMAC}.num_init_channels"] = num_init_channels
  if image_size is not None:
    resizer = "model.center_net.image_resizer.fixed_shape_resizer"
    overrides[f"{resizer}.height"] = image_size
    overrides[f"{resizer}.width"] = image_size
  if steps is not None:
    lr = "train_config.optimizer.adam_optimizer.learning_rate.cosine_decay_learning_rate"
    overrides["train_config.num_steps"] = steps
    overrides[f"{lr}.total_steps"] = steps
    overrides[f"{lr}.warmup_steps"] = max(1, steps // 10)
  if batch_size is not None:
    overrides["train_config.batch_size"] = batch_size
  if learning_rate is not None:
    lr = "train_config.optimizer.adam_optimizer.learning_rate.cosine_decay_learning_rate"
    overrides[f"{lr}.learning_rate_base"] = learning_rate
    overrides[f"{lr}.warmup_learning_rate"] = learning_rate / 10.0
  overrides.update(extra or {})
  return loader.load_pipeline_config(CONFIG, overrides=overrides)


def build(pipeline):
  """DeepMACMetaArch of `pipeline.model`, its variables created on a dummy batch (the mask
  network builds on its first call, hence the box-prompted call)."""
  model = model_builder.build(pipeline.model, is_training=True)
  size = pipeline.model.center_net.image_resizer.fixed_shape_resizer.height
  images = tf.zeros([1, size, size, 3], tf.float32)
  preprocessed, shapes = model.preprocess(images)
  model.predict(preprocessed, shapes, training=False)
  if hasattr(model, "predict_masks_from_boxes"):
    model.predict_masks_from_boxes(images, tf.constant([[[0.25, 0.25, 0.75, 0.75]]]))
  return model


def build_optimizer(pipeline):
  """(keras optimizer, schedule) of pipeline.train_config.optimizer (the library's builder)."""
  return optimizer_builder.build(pipeline.train_config.optimizer)


def load_detector_pipeline(steps, batch_size, learning_rate, image_size=None):
  """The same config without the mask task: CenterNet trained on every class's boxes."""
  pipeline = load_pipeline(HEADS["resnet4"], 32, (), steps=steps, batch_size=batch_size,
                           learning_rate=learning_rate, image_size=image_size)
  pipeline.model.center_net.ClearField("deepmac_mask_estimation")
  return pipeline


def detector_parts(model):
  """The layers the detector stage trains: feature extractor, object-centre and box tasks."""
  mask_task = getattr(model, "deepmac_task", None)
  return [model.feature_extractor] + [t for t in model.tasks if t is not mask_task]


def init_from_detector(source, target):
  """Copies the shared detector's weights (backbone, centre and box heads) into `target`."""
  for src, dst in zip(detector_parts(source), detector_parts(target)):
    dst.set_weights(src.get_weights())


def count_params(layer):
  return int(sum(np.prod(v.shape) for v in layer.trainable_variables))
