"""The four DeepMAC reference configs build at full size with the original's parameter counts
and run one train step at a reduced input size (128x128, the smallest HG-104 input).

Slow: each full-size model (215-239 M parameters) is built once and stepped once.
"""

import gc

import numpy as np
import pytest
import tensorflow as tf

from object_detection.builders import deepmac_builder
from object_detection.builders import model_builder
from object_detection.config import loader
from object_detection.core import fields
from object_detection.core import registries
from object_detection.core.problems import Problems

G = fields.InputDataFields
L = fields.LossNames
D = fields.DetectionResultFields

CONFIGS = {
    "coco": "center_net_deepmac_1024x1024_coco_tpu-128.config",
    "voc": "center_net_deepmac_1024x1024_voc_only_tpu-128.config",
    "non_voc": "center_net_deepmac_1024x1024_non_voc_only_tpu-128.config",
    "512": "center_net_deepmac_512x512_voc_only_tpu-32.config",
}
# FEATURES.md, whole-model counts measured on the original (trainable, all variables).
# The three 1024 configs share one architecture (they differ in allowed_masked_classes_ids).
ORIGINAL_COUNTS = {"coco": (239_322_397, 239_495_325), "voc": (239_322_397, 239_495_325),
                   "non_voc": (239_322_397, 239_495_325), "512": (215_555_869, 215_702_685)}
VOC_IDS = (1, 2, 3, 4, 5, 6, 7, 9, 16, 17, 18, 19, 20, 21, 44, 62, 63, 64, 67, 72)
SMALL = ["model.center_net.image_resizer.keep_aspect_ratio_resizer.min_dimension=128",
         "model.center_net.image_resizer.keep_aspect_ratio_resizer.max_dimension=128",
         "model.center_net.object_center_params.max_box_predictions=2"]


def _load(shared_dir, name, small=True):
  return loader.load_pipeline_config(shared_dir / "reference_configs" / CONFIGS[name],
                                     overrides=SMALL if small else None)


def _groundtruth():
  masks = np.zeros([1, 2, 128, 128], np.uint8)
  masks[0, 0, 13:64, 13:77] = 1
  masks[0, 1, 38:115, 26:102] = 1
  return {G.groundtruth_boxes: tf.constant([[[0.1, 0.1, 0.5, 0.6], [0.3, 0.2, 0.9, 0.8]]]),
          G.groundtruth_classes: tf.one_hot([[0, 17]], 90),
          G.groundtruth_weights: tf.ones([1, 2]),
          G.groundtruth_instance_masks: tf.constant(masks),
          G.num_groundtruth_boxes: tf.constant([2])}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["512", "coco", "voc", "non_voc"])
def test_full_size_counts_and_one_train_step(shared_dir, name):
  pipeline = _load(shared_dir, name)
  model = model_builder.build(pipeline.model, is_training=True)
  images = tf.random.uniform([1, 128, 128, 3], 0, 255, seed=0)
  preprocessed, shapes = model.preprocess(images)
  assert preprocessed.shape == (1, 128, 128, 3)
  detections = model.postprocess(model.predict(preprocessed, shapes), shapes)  # builds all heads
  assert detections[D.detection_masks].shape == (1, 2, 32, 32)
  trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
  total = sum(int(np.prod(w.shape)) for w in model.weights)
  want_trainable, want_total = ORIGINAL_COUNTS[name]
  assert abs(trainable - want_trainable) / want_trainable < 0.005
  assert abs(total - want_total) / want_total < 0.005
  assert trainable == want_trainable      # exact in practice (a parity canary)

  gt = _groundtruth()
  optimizer = tf.keras.optimizers.SGD(1e-4)
  with tf.GradientTape() as tape:
    predictions = model.predict(preprocessed, shapes, groundtruth=gt, training=True)
    losses = model.loss(predictions, shapes, gt, training=True)
    loss = tf.add_n(list(losses.values()))
  assert {L.object_center, L.box_scale, L.box_offset, L.deep_mask_estimation} <= set(losses)
  assert all(np.isfinite(float(v)) for v in losses.values())
  grads = tape.gradient(loss, model.trainable_weights)
  used = [(g, w) for g, w in zip(grads, model.trainable_weights) if g is not None]
  # use_only_last_stage (512 config) leaves the first stack's two embedding heads unused.
  assert len(used) == len(grads) - (8 if name == "512" else 0)
  optimizer.apply_gradients(used)
  del model, optimizer, grads, used
  gc.collect()


@pytest.mark.slow
@pytest.mark.parametrize("name,allowed", [("voc", VOC_IDS), ("non_voc", None), ("coco", ())])
def test_partial_supervision_configs_share_the_coco_architecture(shared_dir, name, allowed):
  """voc / non_voc differ from coco only in allowed_masked_classes_ids (so their counts are the
  coco model's, measured above); the mask task builds with their ids."""
  coco = _translate(_load(shared_dir, "coco", small=False).model.center_net)
  config = _load(shared_dir, name, small=False).model.center_net
  args = _translate(config)
  ids = args.task["allowed_masked_classes_ids"]
  if allowed is None:   # non-VOC: the 60 COCO ids that are not VOC
    assert len(ids) == 60
    assert not set(ids) & set(VOC_IDS)
  else:
    assert ids == allowed
  assert _comparable(args, allowed_masked_classes_ids=()) == _comparable(coco)
  task = deepmac_builder.build_task(config.deepmac_mask_estimation, config.num_classes, 2)
  assert args.network is registries.DEEPMAC_MASK_NETWORKS.get("hourglass100")
  assert args.task["dim"] + args.task["pixel_embedding_dim"] + 2 * args.task["use_xy"] == 50
  assert task.allowed_masked_classes_ids == tuple(ids)


def _translate(center_net_config):
  problems = Problems()
  args = deepmac_builder.translate(center_net_config.deepmac_mask_estimation,
                                   center_net_config.num_classes, problems)
  assert problems.lines == []
  return args


def _comparable(args, **replace):
  """DeepMACArgs as plain values (the loss callable as its function and bound options)."""
  task = dict(args.task, **replace)
  loss = task.pop("classification_loss")
  return (task, getattr(loss, "func", loss), getattr(loss, "keywords", {}), args.network,
          args.mask_net)
