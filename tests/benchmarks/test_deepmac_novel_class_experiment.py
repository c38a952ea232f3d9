"""The synthetic-shapes experiment script: its data are consistent.

Training itself is the tiny DeepMAC path that tests/meta_architectures/deepmac/test_meta_arch.py
runs (XLA train step); the IoU claim needs minutes of training (commands in the script).
"""

import importlib.util

import numpy as np
import pytest

from object_detection.core import fields

G = fields.InputDataFields


@pytest.fixture(scope="module")
def experiment():
  path = __import__("pathlib").Path(__file__).resolve().parents[2] / "benchmarks" / (
      "deepmac_novel_class_experiment.py")
  spec = importlib.util.spec_from_file_location("deepmac_novel_class_experiment", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_shapes_fill_their_boxes_as_expected(experiment):
  rng = np.random.default_rng(0)
  assert experiment._shape_mask(1, 8, rng).all()
  disc = experiment._shape_mask(2, 40, rng)
  assert abs(disc.mean() - np.pi / 4) < 0.03
  triangle = experiment._shape_mask(3, 40, rng)
  assert abs(triangle.mean() - 0.5) < 0.05


def test_batches_are_padded_and_boxes_are_tight(experiment):
  images, gt = experiment.make_batch(np.random.default_rng(1), 4, 32, max_boxes=3)
  assert images.shape == (4, 32, 32, 3)
  weights = gt[G.groundtruth_weights]
  for b in range(4):
    for n in range(3):
      mask = gt[G.groundtruth_instance_masks][b, n]
      if weights[b, n] == 0:
        assert not mask.any() and not gt[G.groundtruth_classes][b, n].any()
        continue
      ys, xs = np.nonzero(mask)
      np.testing.assert_allclose(gt[G.groundtruth_boxes][b, n],
                                 [ys.min() / 32, xs.min() / 32, (ys.max() + 1) / 32,
                                  (xs.max() + 1) / 32])
      assert gt[G.groundtruth_classes][b, n].sum() == 1.0
