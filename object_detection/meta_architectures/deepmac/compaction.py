"""DeepMAC training on the real instances only, not on every padded box slot.

Ground truth is padded to `max_number_of_boxes` slots (100 in the released configs, against
about 7 objects in an average COCO image); the original runs the mask head on every slot. Two
steps remove that work:
  - `truncate_slots`: drops the slots after the last real instance of every image (a slice to
    [B, N'] with N' = max over images of (index of the last slot with weight > 0) + 1), so
    crops, targets and losses are computed for N' slots. Dynamic shape: skipped under XLA.
  - `map_valid`: runs the mask network on the real instances only (weight > 0), gathered from
    the flattened [B*N'] slots, and scatters its output back (zeros on padded slots, whose
    losses have weight 0). Without XLA the gather has exactly the real count; under XLA (TPU,
    jit_compile) it uses the smallest of a few static bucket sizes that holds them
    (`bucket_sizes`), each bucket a branch of one switch_case.
Losses and gradients equal the padded computation's for mask networks without batch
statistics, and for any network at inference (tests/meta_architectures/deepmac/
test_compaction.py). Batch-norm layers of the mask head in training mode compute their batch
statistics over the real instances (plus bucket padding under XLA) instead of over every slot
(docs/DEVIATIONS.md).
"""

import tensorflow as tf
from tensorflow.python.ops import control_flow_util  # pylint: disable=g-direct-tensorflow-import

SMALLEST_BUCKET = 8
BUCKET_GROWTH = 4


def in_xla_context():
  """True while tracing code that XLA compiles (tf.function(jit_compile=True), TPU)."""
  return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def num_used_slots(weights):
  """[B, N] float32 instance weights -> scalar int32: slots up to the last one with weight > 0
  in any image (0 when there is none)."""
  num = tf.shape(weights)[1]
  positions = tf.range(1, num + 1)[None, :] * tf.cast(weights > 0.0, tf.int32)
  return tf.reduce_max(tf.concat([tf.reshape(positions, [-1]), [0]], 0))


def truncate_slots(groundtruth, weights_key="weights"):
  """Slices every [B, N, ...] value of `groundtruth` (dict; None values kept) to the used
  slots (num_used_slots of groundtruth[weights_key]), at least one slot."""
  used = tf.maximum(num_used_slots(groundtruth[weights_key]), 1)
  return {k: None if v is None else v[:, :used] for k, v in groundtruth.items()}


def bucket_sizes(total):
  """Static sizes for `total` slots: 8, 32, 128, ... (x4) below total, then total."""
  sizes, size = [], SMALLEST_BUCKET
  while size < total:
    sizes.append(size)
    size *= BUCKET_GROWTH
  return tuple(sizes) + (total,)


def _scatter(indices, values, total):
  return tf.scatter_nd(indices[:, None], values,
                       tf.concat([[total], tf.shape(values)[1:]], 0))


def map_valid(fn, valid, *inputs):
  """fn(*inputs) on the rows where `valid` is true; zeros on the other rows.

  Args:
    fn: callable([M, ...] tensors) -> [M, ...] float tensor, row-wise except for batch
      statistics (the DeepMAC mask network).
    valid: [T] bool.
    *inputs: [T, ...] tensors (T static under XLA).
  Returns:
    [T, ...] like fn's output.
  """
  total = inputs[0].shape[0] if inputs[0].shape[0] is not None else tf.shape(inputs[0])[0]
  if in_xla_context() and isinstance(total, int):
    return _map_valid_buckets(fn, valid, inputs, total)
  indices = tf.cast(tf.reshape(tf.where(valid), [-1]), tf.int32)
  # No real instance: run one padded row (masked out below) rather than an empty batch (the
  # oneDNN convolutions of TF 2.21 mis-shape empty batches).
  indices = tf.cond(tf.size(indices) > 0, lambda: indices, lambda: tf.zeros([1], tf.int32))
  out = fn(*[tf.gather(x, indices) for x in inputs])
  keep = tf.cast(tf.gather(valid, indices), out.dtype)
  keep = tf.reshape(keep, [-1] + [1] * (len(out.shape) - 1))
  return _scatter(indices, out * keep, total)


def _map_valid_buckets(fn, valid, inputs, total):
  """Static-shape map_valid: the real rows first (stable order), padded to a bucket size."""
  order = tf.argsort(tf.cast(tf.logical_not(valid), tf.int32), stable=True)
  count = tf.reduce_sum(tf.cast(valid, tf.int32))
  sizes = bucket_sizes(total)

  def branch(size):
    def run():
      indices = order[:size]
      out = fn(*[tf.gather(x, indices) for x in inputs])
      keep = tf.cast(tf.gather(valid, indices), out.dtype)
      keep = tf.reshape(keep, [size] + [1] * (len(out.shape) - 1))
      return _scatter(indices, out * keep, total)
    return run

  which = tf.reduce_sum(tf.cast(count > tf.constant(sizes[:-1], tf.int32), tf.int32))
  if len(sizes) == 1:
    return branch(sizes[0])()
  return tf.switch_case(which, [branch(size) for size in sizes])
