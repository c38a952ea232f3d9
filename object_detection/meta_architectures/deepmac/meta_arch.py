"""DeepMACMetaArch: CenterNet + the DeepMAC mask task, with box-prompted mask inference.

    model = DeepMACMetaArch(num_classes, extractor, resizer_fn,
                            tasks=[ObjectCenterTask, BoxTask, DeepMACTask])
    masks = model.predict_masks_from_boxes(images, boxes)   # [B, N, S, S] probabilities

Everything else (preprocess / predict / loss / postprocess) is CenterNet's task loop; the mask
task adds `detection_masks` to the detections.
"""

import dataclasses

import tensorflow as tf

from object_detection.meta_architectures.center_net import meta_arch as center_net_meta_arch
from object_detection.meta_architectures.deepmac import task as deepmac_task


class DeepMACMetaArch(center_net_meta_arch.CenterNetMetaArch):
  """CenterNet whose task list contains exactly one DeepMACTask.

  Keeps a training-step counter (`training_step`, int64, checkpointed) incremented by every
  `loss(..., training=True)` call; it drives the colour-consistency and self-supervision
  warm-ups (the original read a step the train loop stored on the model).
  """

  def __init__(self, num_classes, feature_extractor, image_resizer_fn, tasks, **kwargs):
    super().__init__(num_classes, feature_extractor, image_resizer_fn, tasks, **kwargs)
    mask_tasks = [t for t in self.tasks if isinstance(t, deepmac_task.DeepMACTask)]
    if len(mask_tasks) != 1:
      raise ValueError("DeepMACMetaArch: tasks must contain exactly one DeepMACTask "
                       f"(got {len(mask_tasks)})")
    self._deepmac_task = mask_tasks[0]
    # ONLY_FIRST_REPLICA: every replica runs loss(), the counter must advance once per step.
    self.training_step = tf.Variable(
        0, dtype=tf.int64, trainable=False, name="training_step",
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  @property
  def deepmac_task(self):
    return self._deepmac_task

  @property
  def mask_supervised_class_ids(self):
    """The 1-based label ids whose masks supervise training, or None (all classes)."""
    return list(self._deepmac_task.allowed_masked_classes_ids) or None

  def _context(self, prediction_dict, true_image_shapes, training):
    context = super()._context(prediction_dict, true_image_shapes, training)
    return dataclasses.replace(context, step=self.training_step)

  def loss(self, prediction_dict, true_image_shapes, groundtruth, training=True):
    losses = super().loss(prediction_dict, true_image_shapes, groundtruth, training=training)
    if training:
      self.training_step.assign_add(1)
    return losses

  def predict_masks_from_boxes(self, images, boxes):
    """Box-prompted masks: one mask per given box (no detector output involved).

    Args:
      images: [B, H, W, 3] float32 raw RGB in [0, 255] (the original images).
      boxes: [B, N, 4] float32 normalized [ymin, xmin, ymax, xmax] to the ORIGINAL image.
    Returns:
      [B, N, S, S] float32 mask probabilities in the frame of each box (S = mask_size, or
      postprocess_crop_size with full-resolution masks). Paste them into the image with
      `ops.mask_ops.paste_box_masks` / `paste_and_binarize_masks`.
    """
    preprocessed, true_shapes = self.preprocess(images)
    predictions = self.predict(preprocessed, true_shapes, training=False)
    # Normalized to the original image = normalized to the resized true image (resizing keeps
    # relative positions); rescale to the padded input.
    padded = deepmac_task.boxes_true_to_padded(tf.cast(boxes, tf.float32), true_shapes,
                                               tf.shape(preprocessed)[1:3])
    return self._deepmac_task.mask_probabilities(predictions, padded, self.stride)
