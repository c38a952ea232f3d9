"""Balanced positive/negative minibatch sampling with static shapes (the original's
BalancedPositiveNegativeSampler with `is_static`): a random subset of at most
`floor(batch_size * positive_fraction)` positives, filled up to `batch_size` with negatives.
"""

import tensorflow as tf

from object_detection.core import randomness


def _random_ranks(candidates, seed):
  """[..., M] bool -> [..., M] int32 rank of each candidate in a random order (others: M)."""
  shape = tf.shape(candidates)
  stateless = [seed, 0] if seed is not None else randomness.op_seed()
  noise = (tf.random.uniform(shape) if stateless is None
           else tf.random.stateless_uniform(shape, seed=stateless))
  keys = tf.where(candidates, noise, -1.0)  # candidates first when sorted descending
  order = tf.argsort(keys, axis=-1, direction="DESCENDING", stable=True)
  ranks = tf.argsort(order, axis=-1, stable=True)
  return tf.where(candidates, ranks, shape[-1])


def balanced_sample(indicator, labels, batch_size, positive_fraction, seed=None):
  """Selects a balanced random minibatch.

  Args:
    indicator: [..., M] bool, the entries that may be sampled (matched or unmatched, not
      ignored).
    labels: [..., M] bool, True for positives.
    batch_size: int, the minibatch size per row.
    positive_fraction: float in [0, 1], the largest share of positives.
    seed: optional int for a deterministic (stateless) sample; None takes the training step's
      seed (core/randomness.py) inside a train step, else draws fresh randomness.
  Returns:
    [..., M] bool, True for sampled entries: min(#pos, floor(batch_size * positive_fraction))
    positives and min(#neg, batch_size - sampled positives) negatives.
  """
  if not 0.0 <= positive_fraction <= 1.0:
    raise ValueError(
        f"balanced_sample: positive_fraction must be in [0, 1] (got {positive_fraction})")
  indicator = tf.cast(indicator, tf.bool)
  labels = tf.cast(labels, tf.bool)
  positives = tf.logical_and(indicator, labels)
  negatives = tf.logical_and(indicator, tf.logical_not(labels))
  max_pos = int(batch_size * positive_fraction)
  pos_ranks = _random_ranks(positives, seed)
  sampled_pos = pos_ranks < max_pos
  num_pos = tf.reduce_sum(tf.cast(sampled_pos, tf.int32), axis=-1, keepdims=True)
  neg_ranks = _random_ranks(negatives, None if seed is None else seed + 1)
  sampled_neg = neg_ranks < batch_size - num_pos
  return tf.logical_or(sampled_pos, sampled_neg)
