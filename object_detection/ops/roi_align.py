"""Cropping per-box features: the original's crop_and_resize (+ max-pool), RoIAlign, and the
FPN level assignment with multi-level cropping. Boxes are normalized `[ymin, xmin, ymax, xmax]`
of the (padded) model input; features cover that input.

Every crop is a bilinear gather of the 4 neighbours of each sample point from a flattened
feature tensor (the approach of the Model Garden's multilevel_crop_and_resize): it compiles
with XLA (the CropAndResize op has no XLA kernel), its memory is proportional to the output,
and several FPN levels are cropped with one gather by offsetting into their concatenation.
"""

import math

import tensorflow as tf


# Pixels beyond the first/last row or column that still count as inside (see bilinear_gather).
EDGE_TOLERANCE = 1e-3


def _hw(features):
  return (features.shape[1] or tf.shape(features)[1], features.shape[2] or tf.shape(features)[2])


def crop_and_resize_positions(lo, hi, size, out_size):
  """Sample positions of `tf.image.crop_and_resize` along one axis, in pixel-index units.

  Sample i of a box spanning [lo, hi] (normalized) sits at
  `lo * (size - 1) + i * (hi - lo) * (size - 1) / (out - 1)` (the box centre when out == 1).

  Args:
    lo, hi: [...] float32. size: [...] float32 (or scalar) input length. out_size: int.
  Returns:
    [..., out_size] float32.
  """
  lo, hi, size = lo[..., None], hi[..., None], tf.cast(size, tf.float32)
  size = size[..., None] if len(size.shape) else size
  if out_size == 1:
    return 0.5 * (lo + hi) * (size - 1.0)
  i = tf.range(out_size, dtype=tf.float32)
  return lo * (size - 1.0) + i * (hi - lo) * (size - 1.0) / (out_size - 1.0)


def roi_align_positions(lo, hi, size, out_size, sampling_ratio):
  """RoIAlign sample positions (pixel-centre aligned): `sampling_ratio` per bin at the centres
  of its sub-bins; normalized x maps to the continuous pixel coordinate x * size, pixel i's
  centre is at i + 0.5. Returns [..., out_size * sampling_ratio] pixel-index positions."""
  lo, hi, size = lo[..., None], hi[..., None], tf.cast(size, tf.float32)
  size = size[..., None] if len(size.shape) else size
  n = out_size * sampling_ratio
  step = (hi - lo) * size / n
  return lo * size + (tf.range(n, dtype=tf.float32) + 0.5) * step - 0.5


def bilinear_gather(flat, offsets, heights, widths, ys, xs):
  """Bilinear samples from per-box 2-D maps stored in one flat tensor.

  A sample outside [0, H - 1] x [0, W - 1] reads 0 (crop_and_resize's extrapolation_value 0),
  with a margin of EDGE_TOLERANCE pixels: a box edge on the image border samples exactly H - 1,
  and one float rounding (a converter that turns `/ 3` into `* 0.33333334`) must not zero it.

  Args:
    flat: [B, T, C] float32 (or bfloat16: the samples are read in it, interpolated in
      float32), row-major maps concatenated along T.
    offsets: [B, N] int32, start of each box's map in T.
    heights, widths: [B, N] int32, its size.
    ys: [B, N, h] float32 row positions; xs: [B, N, w] float32 column positions.
  Returns:
    [B, N, h, w, C] float32.
  """
  hf = tf.cast(heights, tf.float32)[..., None]
  wf = tf.cast(widths, tf.float32)[..., None]
  y_in = tf.logical_and(ys >= -EDGE_TOLERANCE, ys <= hf - 1.0 + EDGE_TOLERANCE)
  x_in = tf.logical_and(xs >= -EDGE_TOLERANCE, xs <= wf - 1.0 + EDGE_TOLERANCE)
  y0f = tf.floor(tf.clip_by_value(ys, 0.0, tf.maximum(hf - 1.0, 0.0)))
  x0f = tf.floor(tf.clip_by_value(xs, 0.0, tf.maximum(wf - 1.0, 0.0)))
  wy = tf.where(y_in, ys - y0f, 0.0)
  wx = tf.where(x_in, xs - x0f, 0.0)
  y0 = tf.cast(y0f, tf.int32)
  x0 = tf.cast(x0f, tf.int32)
  y1 = tf.minimum(y0 + 1, heights[..., None] - 1)
  x1 = tf.minimum(x0 + 1, widths[..., None] - 1)
  base = offsets[..., None, None]
  w_row = widths[..., None, None]

  def gather(yi, xi):
    idx = base + yi[..., :, None] * w_row + xi[..., None, :]          # [B, N, h, w]
    return tf.cast(tf.gather(flat, idx, batch_dims=1), tf.float32)     # [B, N, h, w, C]

  wy = wy[..., :, None, None]
  wx = wx[..., None, :, None]
  top = gather(y0, x0) * (1.0 - wx) + gather(y0, x1) * wx
  bottom = gather(y1, x0) * (1.0 - wx) + gather(y1, x1) * wx
  out = top * (1.0 - wy) + bottom * wy
  inside = tf.logical_and(y_in[..., :, None], x_in[..., None, :])[..., None]
  return tf.where(inside, out, 0.0)


def _flatten(feature_maps):
  """List of [B, H_l, W_l, C] -> flat [B, T, C], offsets [L], heights [L], widths [L]."""
  flats, offsets, heights, widths = [], [], [], []
  offset = tf.constant(0, tf.int32)
  for fmap in feature_maps:
    h, w = _hw(fmap)
    flats.append(tf.reshape(fmap, [tf.shape(fmap)[0], -1, fmap.shape[-1] or tf.shape(fmap)[-1]]))
    offsets.append(offset)
    heights.append(tf.cast(h, tf.int32))
    widths.append(tf.cast(w, tf.int32))
    offset = offset + tf.cast(h * w, tf.int32)
  return tf.concat(flats, axis=1), tf.stack(offsets), tf.stack(heights), tf.stack(widths)


def _crop(feature_maps, boxes, levels, output_size, sampling_ratio):
  flat, offsets, heights, widths = _flatten(feature_maps)
  box_off = tf.gather(offsets, levels)
  box_h = tf.gather(heights, levels)
  box_w = tf.gather(widths, levels)
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  hf, wf = tf.cast(box_h, tf.float32), tf.cast(box_w, tf.float32)
  if sampling_ratio is None:
    ys = crop_and_resize_positions(ymin, ymax, hf, output_size[0])
    xs = crop_and_resize_positions(xmin, xmax, wf, output_size[1])
    return bilinear_gather(flat, box_off, box_h, box_w, ys, xs)
  ys = roi_align_positions(ymin, ymax, hf, output_size[0], sampling_ratio)
  xs = roi_align_positions(xmin, xmax, wf, output_size[1], sampling_ratio)
  samples = bilinear_gather(flat, box_off, box_h, box_w, ys, xs)
  if sampling_ratio == 1:
    return samples
  # The bin means as a 4-D average pool (not a 7-D reshape + mean): the same numbers, and an op
  # every runtime and delegate has (LiteRT's XNNPACK delegate refuses the 7-D MEAN).
  shape = tf.shape(samples)
  b, n, c = shape[0], shape[1], samples.shape[-1] or shape[4]
  s = sampling_ratio
  pooled = tf.nn.avg_pool2d(
      tf.reshape(samples, [b * n, output_size[0] * s, output_size[1] * s, c]), s, s, "VALID")
  return tf.reshape(pooled, [b, n, output_size[0], output_size[1], c])


def crop_and_resize(features, boxes, crop_size):
  """Bilinear crops with `tf.image.crop_and_resize` semantics (the original's crop_and_resize_fn).

  Box corner `y` samples feature row `y * (H - 1)` (align corners); points outside are 0.

  Args:
    features: [B, H, W, C] float32.
    boxes: [B, N, 4] float32 normalized to the feature map's image.
    crop_size: (h, w) ints.
  Returns:
    [B, N, h, w, C] float32.
  """
  levels = tf.zeros(tf.shape(boxes)[:2], tf.int32)
  return _crop([features], boxes, levels, crop_size, None)


def crop_and_pool(features, boxes, crop_size, pool_kernel=1, pool_stride=1):
  """The original Faster R-CNN RoI op: crop_and_resize to `initial_crop_size`, then max-pool.

  Args:
    features: [B, H, W, C] float32.
    boxes: [B, N, 4] float32 normalized.
    crop_size: int, `initial_crop_size`.
    pool_kernel, pool_stride: `maxpool_kernel_size`, `maxpool_stride` (1/1: no pooling).
  Returns:
    [B * N, h', w', C] float32 ('VALID' pooling).
  """
  crops = crop_and_resize(features, boxes, (crop_size, crop_size))
  crops = tf.reshape(crops, tf.concat([[-1], tf.shape(crops)[2:]], 0))
  if pool_kernel == 1 and pool_stride == 1:
    return crops
  return tf.nn.max_pool2d(crops, pool_kernel, pool_stride, padding="VALID")


def roi_align(features, boxes, output_size, sampling_ratio=2):
  """RoIAlign (Mask R-CNN, pixel-centre aligned): each output bin averages
  `sampling_ratio x sampling_ratio` bilinear samples taken at the centres of its sub-bins.
  Samples outside the feature map read 0.

  Args:
    features: [B, H, W, C] float32.
    boxes: [B, N, 4] float32 normalized.
    output_size: (h, w) ints.
    sampling_ratio: int >= 1, samples per bin side.
  Returns:
    [B, N, h, w, C] float32.
  """
  if sampling_ratio < 1:
    raise ValueError(f"roi_align: sampling_ratio must be >= 1 (got {sampling_ratio})")
  levels = tf.zeros(tf.shape(boxes)[:2], tf.int32)
  return _crop([features], boxes, levels, output_size, sampling_ratio)


def fpn_levels(boxes, num_levels, unit_scale_index, image_size):
  """FPN level of each box (the original's ops.fpn_feature_levels).

  level = floor(log2(sqrt(box area in pixels) / 224)) + unit_scale_index, clipped to
  [0, num_levels - 1]; the original uses unit_scale_index = num_levels - 2 and the pixel size
  sqrt(H * W) of the padded input.

  Args:
    boxes: [B, N, 4] float32 normalized.
    num_levels: int, number of feature maps to choose from.
    unit_scale_index: int, level of a 224x224 box.
    image_size: scalar float32 sqrt(H * W) of the model input, in pixels.
  Returns:
    [B, N] int32 level indices (0 = the finest map given).
  """
  hw = tf.maximum(boxes[..., 2:4] - boxes[..., 0:2], 0.0)
  sqrt_area = tf.sqrt(tf.maximum(hw[..., 0] * hw[..., 1], 1e-12))
  ratio = tf.cast(image_size, tf.float32) / 224.0
  levels = tf.floor(tf.math.log(sqrt_area * ratio) / math.log(2.0)) + unit_scale_index
  return tf.clip_by_value(tf.cast(levels, tf.int32), 0, num_levels - 1)


def multilevel_crop(feature_maps, boxes, output_size, image_size, sampling_ratio=None):
  """Crops each box from its FPN level (one gather over all levels; static shapes).

  Args:
    feature_maps: list of L [B, H_l, W_l, C] float32 maps, finest first.
    boxes: [B, N, 4] float32 normalized.
    output_size: (h, w) ints.
    image_size: scalar float32 sqrt(H * W) of the model input, in pixels.
    sampling_ratio: None for crop_and_resize semantics, else RoIAlign with this ratio.
  Returns:
    [B, N, h, w, C] float32.
  """
  if len(feature_maps) == 1:
    levels = tf.zeros(tf.shape(boxes)[:2], tf.int32)
  else:
    levels = fpn_levels(boxes, len(feature_maps), len(feature_maps) - 2, image_size)
  return _crop(feature_maps, boxes, levels, output_size, sampling_ratio)


def crop_masks(masks, mask_indices, boxes, crop_size):
  """Crops per-box single-channel maps chosen by index (crop_and_resize semantics).

  Args:
    masks: [B, N, H, W] float32 maps.
    mask_indices: [B, M] int32 in [0, N), the map of each box.
    boxes: [B, M, 4] float32 normalized.
    crop_size: (h, w).
  Returns:
    [B, M, h, w] float32.
  """
  h = masks.shape[2] or tf.shape(masks)[2]
  w = masks.shape[3] or tf.shape(masks)[3]
  flat = tf.reshape(masks, [tf.shape(masks)[0], -1, 1])
  offsets = tf.cast(mask_indices, tf.int32) * tf.cast(h * w, tf.int32)
  heights = tf.fill(tf.shape(mask_indices), tf.cast(h, tf.int32))
  widths = tf.fill(tf.shape(mask_indices), tf.cast(w, tf.int32))
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  ys = crop_and_resize_positions(ymin, ymax, tf.cast(heights, tf.float32), crop_size[0])
  xs = crop_and_resize_positions(xmin, xmax, tf.cast(widths, tf.float32), crop_size[1])
  return bilinear_gather(flat, offsets, heights, widths, ys, xs)[..., 0]
