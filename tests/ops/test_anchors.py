"""Anchor grids: a 2x2 grid computed by hand; multiscale levels."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.ops import anchors


def test_grid_anchors_2x2_by_hand():
  # One scale (0.5) x two aspect ratios (1, 4): base 16 -> 8x8 and (8/2)x(8*2) = 4x16.
  out = anchors.grid_anchors(2, 2, scales=[0.5], aspect_ratios=[1.0, 4.0],
                             base_anchor_size=(16.0, 16.0), anchor_stride=(10.0, 20.0),
                             anchor_offset=(5.0, 5.0))
  expected = []
  for yc in (5.0, 15.0):
    for xc in (5.0, 25.0):
      expected.append([yc - 4, xc - 4, yc + 4, xc + 4])
      expected.append([yc - 2, xc - 8, yc + 2, xc + 8])
  np.testing.assert_allclose(out.numpy(), expected)
  graph = tf.function(lambda: anchors.grid_anchors(2, 2, [0.5], [1.0, 4.0], (16.0, 16.0),
                                                   (10.0, 20.0), (5.0, 5.0)))()
  np.testing.assert_allclose(graph.numpy(), expected)


def test_grid_params_order_is_ratio_major():
  params = anchors.GridAnchorParams(scales=(1.0, 2.0), aspect_ratios=(1.0, 4.0), height=10,
                                    width=10)
  out = params.generate([(1, 1)]).numpy()
  heights = out[:, 2] - out[:, 0]
  np.testing.assert_allclose(heights, [10.0, 20.0, 5.0, 10.0])
  assert params.num_anchors_per_location == 4


def test_multiscale_levels():
  params = anchors.MultiscaleAnchorParams(min_level=2, max_level=3, anchor_scale=2.0,
                                          aspect_ratios=(1.0,), scales_per_octave=1)
  out = params.generate([(2, 2), (1, 1)]).numpy()
  assert out.shape == (5, 4)
  np.testing.assert_allclose(out[0], [2 - 4, 2 - 4, 2 + 4, 2 + 4])  # level 2: stride 4, size 8
  np.testing.assert_allclose(out[4], [4 - 8, 4 - 8, 4 + 8, 4 + 8])  # level 3: stride 8, size 16
  with pytest.raises(ValueError, match="one feature shape per level"):
    params.generate([(2, 2)])
