"""Overlay drawing (numpy + PIL): boxes, class names, scores and instance masks on an image.

Used by the training image summaries, eval visualisations, `inference.py` and the demo.
"""

import colorsys

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def color_for_class(class_id):
  """A stable, saturated RGB colour (tuple of 3 ints) for a 1-based class id."""
  hue = (int(class_id) * 0.618033988749895) % 1.0
  r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
  return int(255 * r), int(255 * g), int(255 * b)


def draw_detections(image, boxes, classes, scores, masks=None, category_index=None,
                    min_score_thresh=0.5, max_boxes=20, mask_alpha=0.45, line_width=2):
  """Returns a copy of `image` with the detections drawn.

  Args:
    image: [H, W, 3] uint8 RGB.
    boxes: [K, 4] float normalized [ymin, xmin, ymax, xmax] to this image.
    classes: [K] int 1-based label ids.
    scores: [K] float, or None for ground truth (all drawn, no score text).
    masks: [K, H, W] (binary uint8 or probabilities in [0,1], thresholded at 0.5) at the image
      size, or None.
    category_index: {id: {"name": str}} or None (ids are printed then).
    min_score_thresh: detections below are skipped. max_boxes: at most this many (by order).
  Returns:
    [H, W, 3] uint8.
  """
  image = np.asarray(image, np.uint8)
  height, width = image.shape[:2]
  out = image.astype(np.float32)
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
  keep = [i for i in range(len(boxes))
          if scores is None or float(scores[i]) >= min_score_thresh][:max_boxes]
  if masks is not None:
    masks = np.asarray(masks)
    for i in keep:
      m = masks[i] > 0.5 if masks.dtype != np.uint8 else masks[i] > 0
      color = np.array(color_for_class(classes[i]), np.float32)
      out[m] = (1.0 - mask_alpha) * out[m] + mask_alpha * color
  pil = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
  draw = ImageDraw.Draw(pil)
  font = ImageFont.load_default()
  for i in keep:
    ymin, xmin, ymax, xmax = boxes[i] * np.array([height, width, height, width])
    color = color_for_class(classes[i])
    draw.rectangle([xmin, ymin, xmax, ymax], outline=color, width=line_width)
    cid = int(classes[i])
    name = (category_index or {}).get(cid, {}).get("name", str(cid))
    text = name if scores is None else f"{name}: {int(round(100 * float(scores[i])))}%"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    ty = max(0.0, ymin - (bottom - top) - 2)
    draw.rectangle([xmin, ty, xmin + right - left + 4, ty + bottom - top + 2], fill=color)
    draw.text((xmin + 2, ty), text, fill=(0, 0, 0), font=font)
  return np.asarray(pil)


def side_by_side(left, right):
  """[H, W, 3] uint8 x2 (same height) -> [H, 2W, 3] uint8 (predictions | ground truth)."""
  return np.concatenate([np.asarray(left, np.uint8), np.asarray(right, np.uint8)], axis=1)


def save_png(image, path):
  """Writes [H, W, 3] uint8 to `path` as PNG."""
  Image.fromarray(np.asarray(image, np.uint8)).save(path, format="PNG")
