"""DeepMAC losses as pure functions: mask loss, box/colour consistency, self-supervision.

Every function returns a per-instance loss [B, N] (before instance weighting); the task
multiplies by the instance weights and normalises (FEATURES.md §4):
  mask loss: × (gt_weight · allowed-class flag), sum / max(Σ those weights, 1);
  weak losses: × gt_weight, sum / max(Σ gt_weights, 1).

Frames: "mask frame" is the frame of the mask logits, either each instance's crop box (RoIAlign
mode; sample s of S sits at crop_min + s/(S−1)·crop_size) or the whole padded image at the
feature-map resolution (full-resolution mode).
"""

import dataclasses

import tensorflow as tf

from object_detection.losses import classification
from object_detection.ops import mask_ops


# ------------------------------------------------------------------------ settings of the losses
@dataclasses.dataclass(frozen=True)
class BoxConsistency:
  """BoxInst projection loss (box_consistency_loss_*): weight > 0, per-instance aggregation
  (normalize_auto / normalize_groundtruth_count / normalize_balanced), tightness prior."""
  weight: float
  normalize: str = "normalize_auto"
  tightness: bool = False


@dataclasses.dataclass(frozen=True)
class ColorConsistency:
  """BoxInst pairwise loss (color_consistency_*): weight > 0, similarity threshold, neighbour
  dilation, linear warm-up, and what is compared: the image in LAB (feature_map False) or the
  last backbone output, with a gaussian or normalized-dot-product comparison."""
  weight: float
  threshold: float = 0.4
  dilation: int = 2
  warmup_start: int = 0
  warmup_steps: int = 0
  feature_map: bool = False
  comparison: str = "comparison_default_gaussian"


@dataclasses.dataclass(frozen=True)
class SelfSupervision:
  """Augmented self-supervision (augmented_self_supervision_*): weight > 0, the loss between
  the two passes (loss_dice / loss_mse / loss_kl_div), the augmentation, linear warm-up."""
  weight: float
  loss: str = "loss_dice"
  max_translation: float = 0.0
  flip_probability: float = 0.0
  scale_min: float = 1.0
  scale_max: float = 1.0
  warmup_start: int = 0
  warmup_steps: int = 0


# ---------------------------------------------------------------- per-pixel classification loss
def per_instance_classification_loss(classification_loss, logits, targets,
                                     method="normalize_auto"):
  """Applies a classification loss to [M, P] logits/targets and aggregates per instance.

  `classification_loss(prediction [M, P, 1], target [M, P, 1], weights [M, P, 1])` is one of
  losses/classification.py: per pixel ([M, P, 1], e.g. weighted_sigmoid) or per instance
  ([M, 1], weighted_dice). Aggregation (the original's _aggregate_classification_loss):
    normalize_auto: per-pixel loss -> mean over P; per-instance loss -> itself;
    normalize_groundtruth_count: sum / Σ targets;
    normalize_balanced: each pixel / count of pixels with its own target label (per pixel only).
  Returns: [M] float32.
  """
  loss = classification_loss(logits[..., None], targets[..., None],
                             tf.ones_like(logits)[..., None])
  if len(loss.shape) == 2:          # per instance (dice)
    loss = loss[:, 0]
    if method == "normalize_balanced":
      raise ValueError("per_instance_classification_loss: normalize_balanced needs a per-pixel "
                       "loss (got a per-instance loss such as dice; expected weighted_sigmoid)")
    if method == "normalize_groundtruth_count":
      return loss / tf.reduce_sum(targets, -1)
    if method == "normalize_auto":
      return loss
    raise ValueError(f"per_instance_classification_loss: unknown aggregation {method!r}")
  loss = loss[..., 0]
  if method == "normalize_auto":
    return tf.reduce_mean(loss, -1)
  if method == "normalize_groundtruth_count":
    return tf.reduce_sum(loss, -1) / tf.reduce_sum(targets, -1)
  if method == "normalize_balanced":
    positives = tf.reduce_sum(targets, -1, keepdims=True)
    negatives = tf.reduce_sum(1.0 - targets, -1, keepdims=True)
    normalizer = targets * positives + (1.0 - targets) * negatives
    return tf.reduce_sum(loss / normalizer, -1)
  raise ValueError(f"per_instance_classification_loss: unknown aggregation {method!r}")


def _flat(x):
  shape = tf.shape(x)
  return tf.reshape(x, [shape[0] * shape[1], -1]), shape[0], shape[1]


# ------------------------------------------------------------------------------- the mask loss
def mask_loss(classification_loss, mask_logits, mask_targets):
  """Per-instance mask loss against soft targets.

  Args:
    classification_loss: see per_instance_classification_loss.
    mask_logits: [B, N, h, w] float32 logits (mask frame).
    mask_targets: [B, N, H', W'] float32 soft targets in [0, 1]; logits are resized
      (bilinear) to the target size when it differs (full-resolution mode).
  Returns:
    [B, N] float32.
  """
  mask_logits = resize_like(mask_logits, mask_targets)
  flat_logits, batch, num = _flat(mask_logits)
  flat_targets, _, _ = _flat(mask_targets)
  loss = per_instance_classification_loss(classification_loss, flat_logits, flat_targets,
                                          "normalize_auto")
  return tf.reshape(loss, [batch, num])


def resize_like(masks, reference):
  """Bilinearly resizes [B, N, h, w] masks to the spatial size of [B, N, H, W] `reference`."""
  if masks.shape[2:] == reference.shape[2:] and masks.shape[2] is not None:
    return masks
  size = tf.shape(reference)[2:4]
  shape = tf.shape(masks)
  resized = tf.image.resize(tf.reshape(masks, [-1, shape[2], shape[3], 1]), size)
  return tf.reshape(resized, tf.concat([shape[:2], size], 0))


# ---------------------------------------------------------------------------- box helpers
def fill_boxes(boxes, height, width):
  """[B, N, 4] normalized boxes -> [B, N, height, width] float32 {0,1} (the original's fill_boxes).

  Pixel (i, j) is inside when ymin·H <= i <= ymax·H and xmin·W <= j <= xmax·W (inclusive).
  """
  ymin, xmin, ymax, xmax = tf.unstack(boxes[:, :, None, None, :], axis=-1)
  rows = tf.range(height, dtype=tf.float32)[:, None]
  cols = tf.range(width, dtype=tf.float32)[None, :]
  height_f, width_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
  inside = ((rows >= ymin * height_f) & (rows <= ymax * height_f) &
            (cols >= xmin * width_f) & (cols <= xmax * width_f))
  return tf.cast(inside, tf.float32)


def boxes_in_crop_frame(boxes, crop_boxes):
  """Expresses [..., 4] normalized boxes in the frame of [..., 4] crop boxes (crop = [0,1]²)."""
  cy0, cx0, cy1, cx1 = tf.unstack(crop_boxes, axis=-1)
  height = tf.maximum(cy1 - cy0, 1e-6)
  width = tf.maximum(cx1 - cx0, 1e-6)
  y0, x0, y1, x1 = tf.unstack(boxes, axis=-1)
  return tf.stack([(y0 - cy0) / height, (x0 - cx0) / width, (y1 - cy0) / height,
                   (x1 - cx0) / width], axis=-1)


def fill_boxes_in_crop_frame(boxes, crop_boxes, size):
  """GT boxes drawn in each crop's size x size sample grid -> [B, N, size, size] {0,1}.

  Sample s sits at s/(size−1) of the crop (crop_and_resize), and is inside when that position
  lies within the box (inclusive). Without jitter (crop == box) every sample is inside.
  """
  rel = boxes_in_crop_frame(boxes, crop_boxes)[:, :, None, None, :]
  pos = tf.range(size, dtype=tf.float32) / float(max(size - 1, 1))
  rows, cols = pos[:, None], pos[None, :]
  eps = 1e-6
  inside = ((rows >= rel[..., 0] - eps) & (rows <= rel[..., 2] + eps) &
            (cols >= rel[..., 1] - eps) & (cols <= rel[..., 3] + eps))
  return tf.cast(inside, tf.float32)


def per_instance_no_class_overlap(classes, boxes, frame_boxes, height, width):
  """1 where a pixel is covered by at most one box of the instance's class, else 0.

  Args:
    classes: [B, N, C] float32 one-hot (zeros for padding).
    boxes: [B, N, 4] normalized GT boxes (image frame).
    frame_boxes: [B, N, 4] crop box of each instance's mask frame, or None for the image frame.
    height, width: mask-frame size.
  Returns:
    [B, N, height, width] float32.
  """
  same_class = tf.einsum("bnc,bmc->bnm", classes, classes)
  if frame_boxes is None:
    masks = fill_boxes(boxes, height, width)                               # [B, M, h, w]
    count = tf.einsum("bnm,bmhw->bnhw", same_class, masks)
  else:
    rel = boxes_in_crop_frame(boxes[:, None, :, :], frame_boxes[:, :, None, :])  # [B, N, M, 4]
    pos_y = tf.range(height, dtype=tf.float32) / float(max(height - 1, 1))
    pos_x = tf.range(width, dtype=tf.float32) / float(max(width - 1, 1))
    rows = tf.cast((pos_y >= rel[..., 0:1] - 1e-6) & (pos_y <= rel[..., 2:3] + 1e-6), tf.float32)
    cols = tf.cast((pos_x >= rel[..., 1:2] - 1e-6) & (pos_x <= rel[..., 3:4] + 1e-6), tf.float32)
    count = tf.einsum("bnms,bnmt->bnst", rows * same_class[..., None], cols)
  return tf.cast(count < 2.0, tf.float32)


# ------------------------------------------------------------------------------ box consistency
def box_consistency_loss(classification_loss, mask_logits, box_masks, normalize="normalize_auto",
                         tightness=False):
  """BoxInst projection loss: max over rows/cols of logits vs of the filled GT box.

  Args:
    classification_loss: see per_instance_classification_loss.
    mask_logits: [B, N, h, w] float32 logits (mask frame).
    box_masks: [B, N, h, w] float32 {0,1}, the GT box drawn in the mask frame.
    normalize: per-instance aggregation (per_instance_classification_loss's `method`).
    tightness: inside the box, take the max of the logits within the box only.
  Returns:
    [B, N] float32: the per-instance loss summed over the two projection axes.
  """
  total = 0.0
  for axis in (2, 3):
    if tightness:
      raw_max = tf.reduce_max(mask_logits, axis=axis)
      inside_max = tf.reduce_max(mask_logits * box_masks, axis=axis)
      box_1d = tf.reduce_max(box_masks, axis=axis)
      pred = box_1d * inside_max + (1.0 - box_1d) * raw_max
    else:
      pred = tf.reduce_max(mask_logits, axis=axis)
    target = tf.reduce_max(box_masks, axis=axis)
    flat_pred, batch, num = _flat(pred)
    flat_target, _, _ = _flat(target)
    loss = per_instance_classification_loss(classification_loss, flat_pred, flat_target,
                                            normalize)
    total += tf.reshape(loss, [batch, num])
  return total


# ----------------------------------------------------------------------------- colour consistency
NEIGHBOR_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def neighbors_2d(values, dilation):
  """The 8 dilated neighbours of every pixel, zero outside the map.

  Args:
    values: [..., H, W, C] float32.
    dilation: int, neighbour distance in pixels.
  Returns:
    [8, ..., H, W, C] float32; entry k holds values[i + dy_k·d, j + dx_k·d] for the offsets
    NEIGHBOR_OFFSETS (row-major order of the 3x3 window without its centre).
  """
  d = dilation
  rank = len(values.shape)
  pad = [[0, 0]] * (rank - 3) + [[d, d], [d, d], [0, 0]]
  padded = tf.pad(values, pad)
  height, width = tf.shape(values)[-3], tf.shape(values)[-2]
  out = []
  for dy, dx in NEIGHBOR_OFFSETS:
    out.append(padded[..., d + dy * d:d + dy * d + height, d + dx * d:d + dx * d + width, :])
  return tf.stack(out, axis=0)


def pixel_similarity(features, dilation, comparison="comparison_default_gaussian", theta=2.0):
  """Similarity of every pixel with its 8 dilated neighbours -> [8, ..., H, W].

  gaussian: exp(−‖f − f_k‖₂ / θ) (θ = 2 as the original); normalized_dotprod: dot product of
  L2-normalised features.
  """
  if comparison == "comparison_normalized_dotprod":
    features = tf.math.l2_normalize(features, axis=-1)
    return tf.reduce_sum(features[None] * neighbors_2d(features, dilation), axis=-1)
  difference = features[None] - neighbors_2d(features, dilation)
  norm = tf.sqrt(tf.reduce_sum(difference * difference, axis=-1) + 1e-12)
  return tf.exp(-norm / theta)


def color_consistency_loss(mask_logits, similarity, box_masks, threshold, dilation):
  """BoxInst pairwise loss: −log P(same label) over similar neighbour pairs inside the box.

  Args:
    mask_logits: [B, N, h, w] float32 logits (mask frame).
    similarity: [8, B, N, h, w] (or broadcastable [8, B, 1, h, w]) neighbour similarity.
    box_masks: [B, N, h, w] float32 {0,1}, the GT box in the mask frame.
    threshold: pairs with similarity > threshold are active.
    dilation: int.
  Returns:
    [B, N] float32: Σ over neighbours and box pixels / max(#box pixels, 1).
  """
  probs = tf.sigmoid(mask_logits)[..., None]
  neighbor_probs = neighbors_2d(probs, dilation)[..., 0]
  probs = probs[None, ..., 0]
  same = probs * neighbor_probs + (1.0 - probs) * (1.0 - neighbor_probs)
  same = tf.clip_by_value(same, 1e-3, 1.0)
  active = tf.cast(similarity > threshold, tf.float32)
  per_pixel = -active * tf.math.log(same) * box_masks[None]
  loss = tf.reduce_sum(per_pixel, axis=[0, 3, 4])
  return loss / tf.maximum(tf.reduce_sum(box_masks, axis=[2, 3]), 1.0)


# ------------------------------------------------------------------------- self-supervision
def self_supervision_loss(kind, logits, target_logits, box_masks):
  """Loss between predicted logits and de-augmented (stop-gradient) logits, inside the GT box.

  kind: loss_dice (losses/classification.py's weighted_dice against the binarised targets,
  weights = box, as the original), loss_mse (of probabilities) or loss_kl_div (2-class
  KL(target || pred)); MSE/KL are summed over box pixels / #box pixels.
  Args: logits, target_logits, box_masks: [B, N, h, w] float32. Returns: [B, N] float32.
  """
  flat_logits, batch, num = _flat(logits)
  flat_targets, _, _ = _flat(tf.stop_gradient(target_logits))
  weights, _, _ = _flat(box_masks)
  num_pixels = tf.maximum(tf.reduce_sum(weights, -1), 1.0)
  probs, target_probs = tf.sigmoid(flat_logits), tf.sigmoid(flat_targets)
  if kind == "loss_dice":
    loss = classification.weighted_dice(
        flat_logits[..., None], tf.cast(flat_targets > 0.0, tf.float32)[..., None],
        weights[..., None])[:, 0]
  elif kind == "loss_mse":
    loss = tf.reduce_sum(tf.square(target_probs - probs) * weights, -1) / num_pixels
  elif kind == "loss_kl_div":
    eps = 1e-7
    pred2 = tf.clip_by_value(tf.stack([probs, 1.0 - probs], -1), eps, 1.0)
    target2 = tf.clip_by_value(tf.stack([target_probs, 1.0 - target_probs], -1), eps, 1.0)
    kl = tf.reduce_sum(target2 * tf.math.log(target2 / pred2), -1)
    loss = tf.reduce_sum(kl * weights, -1) / num_pixels
  else:
    raise ValueError(f"self_supervision_loss: unknown loss {kind!r} "
                     "(expected loss_dice, loss_mse or loss_kl_div)")
  return tf.reshape(loss, [batch, num])


def warmup_weight(step, start, steps):
  """Linear ramp clip((step − start) / steps, 0, 1); 1 when steps == 0 or step is None."""
  if steps == 0 or step is None:
    return 1.0
  step = tf.cast(step, tf.float32)
  return tf.clip_by_value((step - float(start)) / float(steps), 0.0, 1.0)


def crop_mask_targets(masks, boxes, size):
  """Soft GT crops: [B, N, H, W] {0,1} masks, [B, N, 4] boxes -> [B, N, size, size] float32."""
  return tf.stop_gradient(mask_ops.crop_batched_masks_to_boxes(masks, boxes, size))
