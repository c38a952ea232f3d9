"""Argmax matcher on 5 anchors, by hand; padding rows; zero ground truth."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.ops import matcher

# 2 GT rows x 5 anchor columns.
SIM = tf.constant([[0.9, 0.5, 0.2, 0.1, 0.0],
                   [0.1, 0.6, 0.35, 0.2, 0.25]])


def _both(fn, *args):
  eager = fn(*args).numpy()
  np.testing.assert_array_equal(eager, tf.function(fn)(*args).numpy())
  return eager


def test_thresholds():
  fn = lambda s, v: matcher.argmax_match(s, v, 0.55, 0.3)
  # col0 -> row0 (0.9); col1 best 0.6 -> row1; col2 0.35 ignored; col3 0.2 neg; col4 0.25 neg.
  out = _both(fn, SIM, tf.constant([True, True]))
  np.testing.assert_array_equal(out, [0, 1, matcher.IGNORED, matcher.UNMATCHED,
                                      matcher.UNMATCHED])


def test_force_match_and_padding():
  fn = lambda s, v: matcher.argmax_match(s, v, 0.7, 0.3, force_match_for_each_row=True)
  out = _both(fn, SIM, tf.constant([True, True]))
  # row1's best column (1) is forced although 0.6 < 0.7.
  np.testing.assert_array_equal(out, [0, 1, matcher.IGNORED, matcher.UNMATCHED,
                                      matcher.UNMATCHED])
  padded = _both(fn, SIM, tf.constant([True, False]))
  np.testing.assert_array_equal(padded, [0, matcher.IGNORED, matcher.UNMATCHED,
                                         matcher.UNMATCHED, matcher.UNMATCHED])


def test_zero_ground_truth_all_negative():
  fn = lambda s, v: matcher.argmax_match(s, v, 0.5, force_match_for_each_row=True)
  out = _both(fn, tf.zeros([0, 5]), tf.zeros([0], tf.bool))
  np.testing.assert_array_equal(out, [matcher.UNMATCHED] * 5)


def test_gather_matched():
  values = tf.constant([[[1.0, 1.0], [2.0, 2.0]]])
  out = matcher.gather_matched(values, tf.constant([[1, -1, 0]]), 0.0).numpy()
  np.testing.assert_array_equal(out, [[[2, 2], [0, 0], [1, 1]]])


def test_bad_thresholds():
  with pytest.raises(ValueError, match="unmatched_threshold"):
    matcher.argmax_match(SIM, tf.constant([True, True]), 0.3, 0.5)
