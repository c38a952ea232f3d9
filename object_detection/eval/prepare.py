"""Turns a batch of model outputs and labels into per-image numpy dicts for the evaluators.

Frames (fields.py):
  * detections: boxes normalized to the TRUE (unpadded) resized image, which is the original
    image's frame -> absolute original pixels; masks [K, h, w] box-relative probabilities ->
    pasted at the original size with `mask_ops.paste_box_masks` and binarized (> 0.5) -> uint8;
    classes 0-based -> +1.
  * ground truth: boxes normalized to the PADDED preprocessed image -> rescaled by
    padded/true -> absolute original pixels; masks at the padded resolution -> cropped to the
    true shape -> nearest-resized to the original size (the original's _resize_groundtruth_masks);
    one-hot classes -> argmax + 1; only the first num_groundtruth_boxes rows.
"""

import numpy as np
import tensorflow as tf

from object_detection.core import fields

IN = fields.InputDataFields
DET = fields.DetectionResultFields


def to_numpy(d):
  """dict of tensors -> dict of numpy arrays."""
  return {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in d.items()}


def groundtruth_for_image(labels, features, i):
  """Image i of a batch -> evaluator ground-truth dict (absolute boxes, 1-based classes)."""
  h0, w0 = (int(x) for x in features[IN.original_image_spatial_shape][i][:2])
  ht, wt = (int(x) for x in features[IN.true_image_shape][i][:2])
  hp, wp = (int(x) for x in np.shape(features[IN.image])[1:3])
  n = int(labels[IN.num_groundtruth_boxes][i])
  boxes = np.asarray(labels[IN.groundtruth_boxes][i][:n], np.float32)
  scale = np.array([hp / ht * h0, wp / wt * w0, hp / ht * h0, wp / wt * w0], np.float32)
  classes = np.argmax(np.asarray(labels[IN.groundtruth_classes][i][:n]), axis=-1) + 1
  out = {"groundtruth_boxes": boxes * scale, "groundtruth_classes": classes.astype(np.int32)}
  if IN.groundtruth_is_crowd in labels:
    out["groundtruth_is_crowd"] = np.asarray(labels[IN.groundtruth_is_crowd][i][:n])
  if IN.groundtruth_area in labels:
    out["groundtruth_area"] = np.asarray(labels[IN.groundtruth_area][i][:n], np.float32)
  if IN.groundtruth_instance_masks in labels:
    masks = tf.convert_to_tensor(labels[IN.groundtruth_instance_masks][i][:n, :ht, :wt])
    resized = tf.image.resize(masks[..., tf.newaxis], (h0, w0), method="nearest")
    out["groundtruth_instance_masks"] = tf.cast(resized[..., 0], tf.uint8).numpy()
  return out


def detections_for_image(detections, features, i, with_masks=True):
  """Image i of postprocess outputs -> evaluator detection dict (absolute, 1-based, binary)."""
  from object_detection.ops import mask_ops  # pylint: disable=import-outside-toplevel
  h0, w0 = (int(x) for x in features[IN.original_image_spatial_shape][i][:2])
  k = int(detections[DET.num_detections][i])
  boxes = np.asarray(detections[DET.detection_boxes][i][:k], np.float32)
  out = {"detection_boxes": boxes * np.array([h0, w0, h0, w0], np.float32),
         "detection_scores": np.asarray(detections[DET.detection_scores][i][:k], np.float32),
         "detection_classes": np.asarray(detections[DET.detection_classes][i][:k]).astype(
             np.int32) + 1}
  if with_masks and DET.detection_masks in detections:
    box_masks = tf.convert_to_tensor(detections[DET.detection_masks][i][:k], tf.float32)
    pasted = mask_ops.paste_box_masks(box_masks, tf.convert_to_tensor(boxes), h0, w0)
    out["detection_masks"] = (pasted.numpy() > 0.5).astype(np.uint8)
  return out


def image_id(features, i):
  """A hashable id of image i (source_id when present, else the hash, else the index)."""
  for key in (IN.source_id, IN.hash):
    if key in features:
      v = np.asarray(features[key])[i]
      return v.decode() if isinstance(v, bytes) else v.item()
  return i
