"""Box crops of masks/feature maps and pasting box masks back into images (pure TF ops).

Sampling follows `tf.image.crop_and_resize` exactly (bilinear, extrapolation value 0): for a box
[y0, x0, y1, x1] normalized to an image of height H, output row i of `size` samples the input at
    y = y0·(H−1) + i·(y1−y0)·(H−1)/(size−1)          (size > 1)
    y = (y0+y1)/2·(H−1)                              (size == 1)
and a sample outside [0, H−1] is 0. It is implemented as two interpolation matrices and einsum, so
it is differentiable w.r.t. the image, static-shaped and XLA friendly (the original's
`matmul_crop_and_resize` idea; `tf.image.crop_and_resize` has no XLA kernel).
"""

import tensorflow as tf


def interpolation_matrix(starts, ends, size, length):
  """Bilinear sampling weights along one axis.

  Args:
    starts, ends: [...] float32, box edges normalized to an axis of `length` pixels.
    size: int, number of samples between start and end (inclusive).
    length: int or scalar int tensor, pixels along the axis.
  Returns:
    [..., size, length] float32: row i holds the weights of the pixels that sample i reads.
  """
  starts = tf.convert_to_tensor(starts, tf.float32)
  ends = tf.convert_to_tensor(ends, tf.float32)
  scale = tf.cast(length, tf.float32) - 1.0
  if size > 1:
    steps = tf.range(size, dtype=tf.float32) / float(size - 1)
    coords = (starts[..., None] + (ends - starts)[..., None] * steps) * scale
  else:
    coords = ((starts + ends) / 2.0 * scale)[..., None]
  pixels = tf.range(length, dtype=tf.float32)
  weights = tf.maximum(0.0, 1.0 - tf.abs(coords[..., None] - pixels))
  inside = tf.logical_and(coords >= 0.0, coords <= scale)
  return weights * tf.cast(inside, tf.float32)[..., None]


def crop_masks_to_boxes(masks, boxes, size):
  """Crops each mask to its box and resizes it to size x size (crop_and_resize semantics).

  Args:
    masks: [N, H, W] any numeric dtype (uint8 {0,1} ground truth or float logits/probs).
    boxes: [N, 4] float32 normalized [ymin, xmin, ymax, xmax] in the frame of `masks`.
    size: int.
  Returns:
    [N, size, size] float32 (soft values: bilinear, not re-binarised).
  """
  masks = tf.cast(masks, tf.float32)
  height, width = tf.shape(masks)[1], tf.shape(masks)[2]
  ky = interpolation_matrix(boxes[:, 0], boxes[:, 2], size, height)
  kx = interpolation_matrix(boxes[:, 1], boxes[:, 3], size, width)
  return tf.einsum("nsh,nhw,ntw->nst", ky, masks, kx)


def crop_batched_masks_to_boxes(masks, boxes, size):
  """crop_masks_to_boxes for [B, N, H, W] masks and [B, N, 4] boxes -> [B, N, size, size]."""
  masks = tf.cast(masks, tf.float32)
  height, width = tf.shape(masks)[2], tf.shape(masks)[3]
  ky = interpolation_matrix(boxes[..., 0], boxes[..., 2], size, height)
  kx = interpolation_matrix(boxes[..., 1], boxes[..., 3], size, width)
  return tf.einsum("bnsh,bnhw,bntw->bnst", ky, masks, kx)


def upsampling_matrix(length, scale):
  """[length·scale, length] float32 weights of `tf.image.resize` bilinear upsampling (half-pixel
  centres, no antialias) along one axis: upsampled pixel k reads the input at
  (k + 0.5) / scale − 0.5, between its floor and ceil clamped to [0, length − 1]."""
  coords = (tf.range(length * scale, dtype=tf.float32) + 0.5) / float(scale) - 0.5
  floor = tf.floor(coords)
  lerp = coords - floor
  lower = tf.clip_by_value(tf.cast(floor, tf.int32), 0, length - 1)
  upper = tf.clip_by_value(tf.cast(tf.math.ceil(coords), tf.int32), 0, length - 1)
  return ((1.0 - lerp)[:, None] * tf.one_hot(lower, length) +
          lerp[:, None] * tf.one_hot(upper, length))


def crop_upsampled_masks_to_boxes(masks, boxes, size, scale):
  """Same as bilinear-upsampling [B, N, h, w] masks by `scale` (tf.image.resize) and then
  cropping them to [B, N, 4] boxes (crop_and_resize, `size` x size), without building the
  [B, N, h·scale, w·scale] upsampled masks: the two linear maps are composed per axis.

  Args:
    masks: [B, N, h, w] float32 (static h, w).
    boxes: [B, N, 4] float32 normalized [ymin, xmin, ymax, xmax].
    size: int. scale: int.
  Returns:
    [B, N, size, size] float32.
  """
  masks = tf.cast(masks, tf.float32)
  height, width = masks.shape[2], masks.shape[3]
  ky = tf.einsum("bnsk,kh->bnsh",
                 interpolation_matrix(boxes[..., 0], boxes[..., 2], size, height * scale),
                 upsampling_matrix(height, scale))
  kx = tf.einsum("bntk,kw->bntw",
                 interpolation_matrix(boxes[..., 1], boxes[..., 3], size, width * scale),
                 upsampling_matrix(width, scale))
  return tf.einsum("bnsh,bnhw,bntw->bnst", ky, masks, kx)


def crop_features_to_boxes(features, boxes, size):
  """RoIAlign-style crops (crop_and_resize semantics) of a batch of feature maps.

  Args:
    features: [B, h, w, C] float32.
    boxes: [B, N, 4] float32 normalized [ymin, xmin, ymax, xmax] in the frame of `features`.
    size: int.
  Returns:
    [B, N, size, size, C] float32.
  """
  height, width = tf.shape(features)[1], tf.shape(features)[2]
  ky = interpolation_matrix(boxes[..., 0], boxes[..., 2], size, height)
  kx = interpolation_matrix(boxes[..., 1], boxes[..., 3], size, width)
  rows = tf.einsum("bnsh,bhwc->bnswc", ky, features)
  return tf.einsum("bnswc,bntw->bnstc", rows, kx)


def _image_corners_in_box_frame(boxes):
  """[N, 4] boxes -> [N, 4] the image's corners normalized to each box (the inverse crop)."""
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  height = tf.maximum(ymax - ymin, 1e-6)
  width = tf.maximum(xmax - xmin, 1e-6)
  return tf.stack([-ymin / height, -xmin / width, (1.0 - ymin) / height, (1.0 - xmin) / width],
                  axis=-1)


def paste_box_masks(box_masks, boxes, image_height, image_width):
  """Pastes box-frame masks into the image frame (the original's reframe_box_masks_to_image_masks).

  Each pixel (i, j) of the output samples the box mask at the pixel's position in the box frame;
  pixels outside the box read 0. The box mask's corner samples sit on the box edges (as produced
  by crop_and_resize).

  Args:
    box_masks: [N, h, w] float32 (probabilities or logits) in the frame of each box.
    boxes: [N, 4] float32 normalized [ymin, xmin, ymax, xmax] in the image frame.
    image_height, image_width: int (or scalar int tensors), output size.
  Returns:
    [N, image_height, image_width] float32. Thresholding is the caller's (see
    `paste_and_binarize_masks`).
  """
  box_masks = tf.cast(box_masks, tf.float32)
  inverse = _image_corners_in_box_frame(boxes)
  mask_h, mask_w = tf.shape(box_masks)[1], tf.shape(box_masks)[2]
  ky = _dynamic_interpolation_matrix(inverse[:, 0], inverse[:, 2], image_height, mask_h)
  kx = _dynamic_interpolation_matrix(inverse[:, 1], inverse[:, 3], image_width, mask_w)
  return tf.einsum("nsh,nhw,ntw->nst", ky, box_masks, kx)


def _dynamic_interpolation_matrix(starts, ends, size, length):
  """interpolation_matrix for a `size` that may be a scalar tensor (image sizes)."""
  if isinstance(size, int):
    return interpolation_matrix(starts, ends, size, length)
  size = tf.convert_to_tensor(size, tf.int32)
  scale = tf.cast(length, tf.float32) - 1.0
  steps = tf.range(size, dtype=tf.float32) / tf.maximum(tf.cast(size, tf.float32) - 1.0, 1.0)
  coords = (starts[..., None] + (ends - starts)[..., None] * steps) * scale
  pixels = tf.range(length, dtype=tf.float32)
  weights = tf.maximum(0.0, 1.0 - tf.abs(coords[..., None] - pixels))
  inside = tf.logical_and(coords >= 0.0, coords <= scale)
  return weights * tf.cast(inside, tf.float32)[..., None]


def paste_and_binarize_masks(detection_masks, detection_boxes, image_height, image_width,
                             threshold=0.5):
  """Full-image binary masks from DeepMAC/Mask R-CNN `detection_masks` (eval/export helper).

  Args:
    detection_masks: [B, K, h, w] float32 probabilities in the frame of each detection box.
    detection_boxes: [B, K, 4] float32 normalized to the image of size image_height x image_width.
    image_height, image_width: int, output size (e.g. the original image size).
    threshold: pixels with pasted probability > threshold are 1.
  Returns:
    [B, K, image_height, image_width] uint8 {0, 1}.
  """
  batch = tf.shape(detection_masks)[0]
  num = tf.shape(detection_masks)[1]
  mask_h, mask_w = tf.shape(detection_masks)[2], tf.shape(detection_masks)[3]
  flat = paste_box_masks(tf.reshape(detection_masks, [-1, mask_h, mask_w]),
                         tf.reshape(detection_boxes, [-1, 4]), image_height, image_width)
  binary = tf.cast(flat > threshold, tf.uint8)
  return tf.reshape(binary, [batch, num, image_height, image_width])
