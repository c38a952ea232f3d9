"""Argmax matching of anchors (columns) to ground-truth boxes (rows), as the original's
ArgMaxMatcher, with static shapes (padded ground truth is excluded by a validity mask).

A match result is an int32 vector over columns: `>= 0` the matched row, `UNMATCHED` (-1) a
negative, `IGNORED` (-2) neither (between the two thresholds).
"""

import tensorflow as tf

UNMATCHED = -1
IGNORED = -2


def argmax_match(similarity, valid_rows, matched_threshold, unmatched_threshold=None,
                 negatives_lower_than_unmatched=True, force_match_for_each_row=False):
  """Matches each column to its most similar valid row.

  Args:
    similarity: [..., N, M] float32 (e.g. IoU of N ground-truth boxes with M anchors).
    valid_rows: [..., N] bool, False for padded ground truth.
    matched_threshold: a column whose best similarity is >= this is matched.
    unmatched_threshold: columns below it are negatives (or ignored, see next); defaults to
      `matched_threshold`. Columns in [unmatched, matched) are the other kind.
    negatives_lower_than_unmatched: True: below unmatched -> UNMATCHED, between -> IGNORED
      (the original's default); False: the reverse.
    force_match_for_each_row: every valid row is matched to its best column, even below the
      threshold (the RPN does this so every object has an anchor).
  Returns:
    [..., M] int32 match results.
  """
  if unmatched_threshold is None:
    unmatched_threshold = matched_threshold
  if unmatched_threshold > matched_threshold:
    raise ValueError(
        f"argmax_match: unmatched_threshold must not exceed matched_threshold "
        f"(got {unmatched_threshold} > {matched_threshold})")
  valid_rows = tf.cast(valid_rows, tf.bool)
  # One extra invalid row keeps the reductions defined when there are no rows at all.
  rank = len(similarity.shape)
  similarity = tf.pad(similarity, [[0, 0]] * (rank - 2) + [[0, 1], [0, 0]], constant_values=-1.0)
  valid_rows = tf.pad(valid_rows, [[0, 0]] * (rank - 2) + [[0, 1]], constant_values=False)
  sim = tf.where(valid_rows[..., :, None], similarity, tf.fill(tf.shape(similarity), -1.0))
  best_row = tf.argmax(sim, axis=-2, output_type=tf.int32)
  best_value = tf.reduce_max(sim, axis=-2)
  below_unmatched = best_value < unmatched_threshold
  between = tf.logical_and(best_value >= unmatched_threshold, best_value < matched_threshold)
  if negatives_lower_than_unmatched:
    low_code, mid_code = UNMATCHED, IGNORED
  else:
    low_code, mid_code = IGNORED, UNMATCHED
  matches = tf.where(below_unmatched, low_code, best_row)
  matches = tf.where(between, mid_code, matches)
  if force_match_for_each_row:
    num_cols = tf.shape(sim)[-1]
    best_col = tf.argmax(sim, axis=-1, output_type=tf.int32)  # [..., N]
    # [..., N, M]: row r forces column best_col[r] (only valid rows).
    forced = tf.logical_and(tf.one_hot(best_col, num_cols, on_value=True, off_value=False),
                            valid_rows[..., :, None])
    any_forced = tf.reduce_any(forced, axis=-2)
    # The last forcing row wins when two rows share a best column (the original's order).
    num_rows = tf.shape(sim)[-2]
    row_ids = tf.range(num_rows, dtype=tf.int32)[:, None]
    forced_row = tf.reduce_max(tf.where(forced, row_ids, -1), axis=-2)
    matches = tf.where(any_forced, forced_row, matches)
  return matches


def gather_matched(values, matches, unmatched_value):
  """Gathers per-row values for each column of a match result.

  Args:
    values: [B, N, ...] per-ground-truth values (boxes, one-hot classes, weights, masks).
    matches: [B, M] int32 match results.
    unmatched_value: scalar or tensor broadcastable to `values.shape[2:]`, used for columns
      that are not matched.
  Returns:
    [B, M, ...] values.
  """
  idx = tf.maximum(matches, 0)
  gathered = tf.gather(values, idx, batch_dims=1)
  matched = matches >= 0
  extra = len(gathered.shape) - 2
  cond = tf.reshape(matched, tf.concat([tf.shape(matched), tf.ones([extra], tf.int32)], 0))
  fill = tf.broadcast_to(tf.cast(unmatched_value, gathered.dtype), tf.shape(gathered))
  return tf.where(cond, gathered, fill)
