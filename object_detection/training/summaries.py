"""TensorBoard summaries of training: every loss, learning rate, steps/s, prediction images.

Tags are the original's (`Loss/...`, `learning_rate`, `steps_per_sec`, `train_input_images`), plus
`Input/...` counts of bad input records and files that were skipped (data/record_guard.py).
Call inside `writer.as_default()`.
"""

import numpy as np
import tensorflow as tf

from object_detection.core import fields
from object_detection.utils import visualization

DET = fields.DetectionResultFields


def scalar(name, value, step):
  """Writes a float32 scalar (TensorBoard "scalars")."""
  return tf.summary.scalar(name, tf.cast(value, tf.float32), step=step)


def image(name, images, step, max_outputs=3):
  """images: [n, H, W, 3] uint8 (TensorBoard "images")."""
  return tf.summary.image(name, tf.convert_to_tensor(images, tf.uint8), step=step,
                          max_outputs=max_outputs)


def write_scalars(losses, learning_rate, steps_per_sec, step):
  """losses: {name: scalar}; learning_rate, steps_per_sec: float; step: int."""
  for name, value in losses.items():
    scalar(name, value, step)
  scalar("learning_rate", learning_rate, step)
  scalar("steps_per_sec", steps_per_sec, step)


def write_input_health(step, last=None):
  """Writes `Input/skipped_records`, `Input/unreadable_files` (totals of the run's readers) and
  the `Input/skipped` text (recent file:record messages) when they changed since `last`.

  Returns:
    the totals written (pass them as `last` next time).
  """
  from object_detection.data import record_guard  # pylint: disable=import-outside-toplevel
  totals = record_guard.totals()
  if totals != last and any(totals.values()):
    for key, value in totals.items():
      scalar(f"Input/{key}", value, step)
    tf.summary.text("Input/skipped", "\n\n".join(record_guard.recent_messages()), step=step)
  return totals


def _display_image(preprocessed):
  """[H, W, 3] float32 normalized model input -> uint8 for display (per-image min-max)."""
  lo, hi = float(np.min(preprocessed)), float(np.max(preprocessed))
  return np.clip((preprocessed - lo) / max(hi - lo, 1e-6) * 255.0, 0, 255).astype(np.uint8)


def prediction_images(model, features, max_images=3, min_score_thresh=0.3):
  """Runs the model on the first images of `features`; -> [n, H, W, 3] uint8 with overlays.

  Masks are pasted at the preprocessed (padded) resolution for display.
  """
  from object_detection.ops import mask_ops  # pylint: disable=import-outside-toplevel
  images = features[fields.InputDataFields.image][:max_images]
  true_shapes = features[fields.InputDataFields.true_image_shape][:max_images]
  dets = model.postprocess(model.predict(images, true_shapes, training=False), true_shapes)
  out = []
  height, width = int(images.shape[1]), int(images.shape[2])
  for i in range(int(images.shape[0])):
    ht, wt = (int(x) for x in true_shapes[i][:2])
    # detections are normalized to the true image; draw on the padded input
    boxes = dets[DET.detection_boxes][i].numpy() * np.array(
        [ht / height, wt / width, ht / height, wt / width], np.float32)
    masks = None
    if DET.detection_masks in dets:
      masks = mask_ops.paste_box_masks(dets[DET.detection_masks][i], boxes, height,
                                       width).numpy()
    out.append(visualization.draw_detections(
        _display_image(images[i].numpy()), boxes,
        dets[DET.detection_classes][i].numpy().astype(np.int32) + 1,
        dets[DET.detection_scores][i].numpy(), masks, min_score_thresh=min_score_thresh))
  return np.stack(out)


def write_prediction_images(model, features, step, max_images=3):
  """Writes `train_input_images` (inputs with predicted boxes and masks)."""
  image("train_input_images", prediction_images(model, features, max_images), step, max_images)
