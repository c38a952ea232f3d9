"""Anchor grids of the original's `grid_anchor_generator` and `multiscale_anchor_generator`.

Anchors are produced in absolute pixels of the model input, ordered `(y, x, anchor)` with the
anchor index running over `aspect_ratio`-major, `scale`-minor pairs, which is the order the RPN
box predictor's `[B, H, W, A*4]` output is reshaped in. Normalize with `box_ops.to_normalized`.
"""

import dataclasses

import tensorflow as tf


def _anchor_shapes(scales, aspect_ratios, base_anchor_size):
  """Returns ([A] heights, [A] widths) in pixels, aspect-ratio-major."""
  scales = tf.constant(scales, tf.float32)
  ratios = tf.constant(aspect_ratios, tf.float32)
  ratio_grid, scale_grid = tf.meshgrid(ratios, scales, indexing="ij")
  ratio_grid = tf.reshape(ratio_grid, [-1])
  scale_grid = tf.reshape(scale_grid, [-1])
  sqrt_ratio = tf.sqrt(ratio_grid)
  heights = scale_grid / sqrt_ratio * base_anchor_size[0]
  widths = scale_grid * sqrt_ratio * base_anchor_size[1]
  return heights, widths


def grid_anchors(feature_height, feature_width, scales, aspect_ratios,
                 base_anchor_size=(256.0, 256.0), anchor_stride=(16.0, 16.0),
                 anchor_offset=(0.0, 0.0)):
  """Anchors centred on every cell of a feature grid (the original's GridAnchorGenerator).

  The anchor of scale s and aspect ratio r (= width / height) is `base * s / sqrt(r)` high and
  `base * s * sqrt(r)` wide, centred at `(offset_y + i * stride_y, offset_x + j * stride_x)`.

  Args:
    feature_height, feature_width: ints, the grid size.
    scales, aspect_ratios: sequences of floats; A = len(scales) * len(aspect_ratios).
    base_anchor_size: (height, width) in pixels.
    anchor_stride: (y, x) pixel distance between centres.
    anchor_offset: (y, x) pixel centre of cell (0, 0).
  Returns:
    [feature_height * feature_width * A, 4] float32 absolute `[ymin, xmin, ymax, xmax]`.
  """
  heights, widths = _anchor_shapes(scales, aspect_ratios, base_anchor_size)
  ys = tf.range(feature_height, dtype=tf.float32) * anchor_stride[0] + anchor_offset[0]
  xs = tf.range(feature_width, dtype=tf.float32) * anchor_stride[1] + anchor_offset[1]
  yc = ys[:, None, None]
  xc = xs[None, :, None]
  h = heights[None, None, :]
  w = widths[None, None, :]
  shape = [feature_height, feature_width, heights.shape[0]]
  boxes = tf.stack([tf.broadcast_to(yc - h / 2, shape), tf.broadcast_to(xc - w / 2, shape),
                    tf.broadcast_to(yc + h / 2, shape), tf.broadcast_to(xc + w / 2, shape)],
                   axis=-1)
  return tf.reshape(boxes, [-1, 4])


@dataclasses.dataclass(frozen=True)
class GridAnchorParams:
  """The original's grid_anchor_generator (defaults as grid_anchor_generator.proto)."""
  scales: tuple = (0.5, 1.0, 2.0)
  aspect_ratios: tuple = (0.5, 1.0, 2.0)
  height: float = 256.0
  width: float = 256.0
  height_stride: float = 16.0
  width_stride: float = 16.0
  height_offset: float = 0.0
  width_offset: float = 0.0

  @property
  def num_anchors_per_location(self):
    return len(self.scales) * len(self.aspect_ratios)

  def generate(self, feature_shapes):
    """`feature_shapes`: [(h, w)] with one entry -> [N, 4] absolute anchors."""
    (fh, fw), = feature_shapes
    return grid_anchors(fh, fw, self.scales, self.aspect_ratios, (self.height, self.width),
                        (self.height_stride, self.width_stride),
                        (self.height_offset, self.width_offset))


@dataclasses.dataclass(frozen=True)
class MultiscaleAnchorParams:
  """The original's multiscale_anchor_generator (FPN), defaults as its proto.

  Level l has stride 2^l, anchors of base size `anchor_scale * 2^l` times
  `2^(i / scales_per_octave)` for i < scales_per_octave, centred at stride / 2 + k * stride.
  """
  min_level: int = 3
  max_level: int = 7
  anchor_scale: float = 4.0
  aspect_ratios: tuple = (1.0, 2.0, 0.5)
  scales_per_octave: int = 2

  @property
  def num_anchors_per_location(self):
    return self.scales_per_octave * len(self.aspect_ratios)

  def generate(self, feature_shapes):
    """`feature_shapes`: [(h, w)] per level min..max -> [sum_l h*w*A, 4] absolute anchors."""
    levels = range(self.min_level, self.max_level + 1)
    if len(feature_shapes) != len(levels):
      raise ValueError(
          f"MultiscaleAnchorParams.generate: one feature shape per level is needed "
          f"(got {len(feature_shapes)}; expected {len(levels)} for levels "
          f"{self.min_level}..{self.max_level})")
    scales = [2.0 ** (i / self.scales_per_octave) for i in range(self.scales_per_octave)]
    out = []
    for level, (fh, fw) in zip(levels, feature_shapes):
      stride = 2.0 ** level
      base = self.anchor_scale * stride
      out.append(grid_anchors(fh, fw, scales, self.aspect_ratios, (base, base),
                              (stride, stride), (stride / 2.0, stride / 2.0)))
    return tf.concat(out, axis=0)
