"""Balanced sampler on 5 entries: counts by hand, eager and inside tf.function."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.ops import sampler

INDICATOR = tf.constant([True, True, True, True, False])
LABELS = tf.constant([True, True, True, False, True])   # 3 positives, 1 negative, 1 excluded


@pytest.mark.parametrize("graph", [False, True])
def test_counts(graph):
  fn = lambda i, l: sampler.balanced_sample(i, l, batch_size=4, positive_fraction=0.5, seed=3)
  out = (tf.function(fn) if graph else fn)(INDICATOR, LABELS).numpy()
  assert not out[4]
  assert out[3]                      # the only negative is always taken
  assert out[:3].sum() == 2          # floor(4 * 0.5) positives
  assert out.sum() == 3              # fewer negatives than batch - positives


def test_fills_with_negatives_and_is_seeded():
  indicator = tf.ones([2, 6], tf.bool)
  labels = tf.constant([[True] + [False] * 5, [False] * 6])
  out = sampler.balanced_sample(indicator, labels, 4, 0.25, seed=7).numpy()
  np.testing.assert_array_equal(out.sum(axis=1), [4, 4])
  assert out[0, 0]
  again = sampler.balanced_sample(indicator, labels, 4, 0.25, seed=7).numpy()
  np.testing.assert_array_equal(out, again)


def test_nothing_to_sample():
  out = sampler.balanced_sample(tf.zeros([5], tf.bool), tf.zeros([5], tf.bool), 4, 0.5).numpy()
  assert not out.any()


def test_bad_fraction():
  with pytest.raises(ValueError, match="positive_fraction"):
    sampler.balanced_sample(INDICATOR, LABELS, 4, 1.5)
