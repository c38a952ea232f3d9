"""Eval side-by-side pictures (predictions | ground truth), the original's eval image summaries.

Drawn on `original_image` (the resized, padded raw image kept by the eval input when
`eval_config.retain_original_images`), or on the min-max scaled model input otherwise. Frames:
detections are normalized to the true image and rescaled here to the padded input; ground-truth
boxes and masks are already in the padded frame.
"""

import numpy as np

from object_detection.core import fields
from object_detection.utils import visualization

IN = fields.InputDataFields
DET = fields.DetectionResultFields


def side_by_side(features, labels, detections, i, category_index=None, min_score_thresh=0.5,
                 max_boxes=20):
  """-> [H, 2W, 3] uint8 for image i of a batch (numpy detections, see eval_loop)."""
  from object_detection.ops import mask_ops  # pylint: disable=import-outside-toplevel
  if IN.original_image in features:
    image = np.asarray(features[IN.original_image][i], np.uint8)
  else:
    x = np.asarray(features[IN.image][i], np.float32)
    image = ((x - x.min()) / max(float(x.max() - x.min()), 1e-6) * 255).astype(np.uint8)
  height, width = image.shape[:2]
  ht, wt = (int(v) for v in np.asarray(features[IN.true_image_shape][i])[:2])
  k = int(detections[DET.num_detections][i])
  boxes = np.asarray(detections[DET.detection_boxes][i][:k], np.float32) * np.array(
      [ht / height, wt / width, ht / height, wt / width], np.float32)
  masks = None
  if DET.detection_masks in detections:
    masks = mask_ops.paste_box_masks(np.asarray(detections[DET.detection_masks][i][:k],
                                                np.float32), boxes, height, width).numpy()
  left = visualization.draw_detections(
      image, boxes, np.asarray(detections[DET.detection_classes][i][:k]).astype(np.int32) + 1,
      np.asarray(detections[DET.detection_scores][i][:k]), masks, category_index,
      min_score_thresh, max_boxes)
  n = int(labels[IN.num_groundtruth_boxes][i])
  gt_masks = (np.asarray(labels[IN.groundtruth_instance_masks][i][:n])
              if IN.groundtruth_instance_masks in labels else None)
  right = visualization.draw_detections(
      image, np.asarray(labels[IN.groundtruth_boxes][i][:n]),
      np.argmax(np.asarray(labels[IN.groundtruth_classes][i][:n]), -1) + 1, None, gt_masks,
      category_index, max_boxes=max_boxes)
  return visualization.side_by_side(left, right)
