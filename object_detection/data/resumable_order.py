"""Seeded record order in which every record has a position (one int64), so that a resumed
training run rebuilds its input pipeline at the position saved with the checkpoint.

Why not a checkpoint of the tf.data iterator: the input pipeline skips bad records with
`ignore_errors` (data/record_guard.py, data/record_files.py), which TF 2.21 cannot save
symbolically ("IgnoreErrorsDataset does not support symbolic checkpointing"), and an explicit
iterator checkpoint writes every buffered element (the shuffle buffer's raw records, the decoded
batches waiting in prefetch: hundreds of MB with COCO). Here the checkpoint holds one number.

The order (training, with a seed):

    files -> per epoch one stateless permutation keyed by (seed, epoch), cut into groups of
             `group_size` files; group g = epoch * groups_per_epoch + k             [file_groups]
          -> per group: its files interleaved (cycle = the group's files, `read_block_length`
             records at a time), the group's records permuted in consecutive blocks of
             `block_size` keyed by (seed, g, block)        [block_shuffle; record_files.py]
          -> position of a record = g * 2**32 + its index in the group after the permutation
          -> (decode, augment with a seed keyed by (seed, position) [element_seed], batch)

A run resumed at position p starts the groups at g = p >> 32 and drops that group's records
before p: it reads at most one group of raw records again (not decoded).

Differences from the original's order (docs/DEVIATIONS.md): file names are fully permuted per
epoch (the original: a 100-name shuffle buffer) and read `num_readers` (at most
MAX_GROUP_FILES) at a time, group after group; records are permuted within consecutive blocks of
`shuffle_buffer_size` of a group (the original: a sliding shuffle buffer of that size).
"""

import tensorflow as tf

POSITION_KEY = "input_position"  # features key of each example's position ([B] int64 batched)
INDEX_BITS = 32  # position = group << INDEX_BITS | index in the group
MAX_GROUP_FILES = 16  # a resume re-reads at most one group of files

# Salts separating the seeds of the different random choices of one run.
_FILES_SALT = 1
_BLOCKS_SALT = 2
_ELEMENTS_SALT = 3


def _seed(seed, salt, *indices):
  """[2] int64 stateless seed for (run seed, salt) folded with each of `indices`."""
  out = tf.constant([int(seed), salt], tf.int64)
  for index in indices:
    out = tf.random.experimental.stateless_fold_in(out, tf.cast(index, tf.int64))
  return out


def position(group, index):
  """[] int64 position of record `index` of group `group`."""
  return tf.bitwise.left_shift(tf.cast(group, tf.int64), INDEX_BITS) + tf.cast(index, tf.int64)


def index_in_group(pos):
  """[] int64: the record's index within its group (for sampling by position)."""
  return tf.bitwise.bitwise_and(pos, (1 << INDEX_BITS) - 1)


def group_size(num_files, num_readers):
  """Files per group: `num_readers`, at most MAX_GROUP_FILES and the number of files."""
  return max(1, min(int(num_readers), MAX_GROUP_FILES, int(num_files)))


def file_groups(num_files, size, num_epochs, shuffle, seed, start_group=0):
  """Dataset of (group index [] int64, file indices [<= size] int32) from `start_group` on.

  `num_epochs` passes (0 = forever) over `num_files` files; each pass is the permutation keyed by
  (seed, epoch) when `shuffle` (else the given order), cut into groups of `size` files (the last
  group of a pass may be smaller).
  """
  per_epoch = -(-int(num_files) // int(size))
  groups = (tf.data.Dataset.range(int(start_group), int(num_epochs) * per_epoch) if num_epochs
            else tf.data.Dataset.counter(int(start_group)))

  def members(g):
    epoch = g // per_epoch
    order = tf.range(num_files, dtype=tf.int32)
    if shuffle:
      order = tf.random.experimental.stateless_shuffle(order, seed=_seed(seed, _FILES_SALT, epoch))
    first = tf.cast((g % per_epoch) * size, tf.int32)
    return g, order[first:tf.minimum(first + size, num_files)]
  return groups.map(members)


def block_shuffle(dataset, block_size, seed, group=0):
  """Permutes consecutive blocks of `block_size` elements, each by the seed (seed, group, block).

  Elements may be structures (every component is permuted alike). The last, partial block of a
  finite dataset is permuted too. Memory: one block.
  """
  blocks = dataset.batch(max(1, int(block_size))).enumerate()

  def permuted(i, *block):
    block = block[0] if len(block) == 1 else block
    n = tf.shape(tf.nest.flatten(block)[0], out_type=tf.int64)[0]
    order = tf.random.experimental.stateless_shuffle(tf.range(n),
                                                     seed=_seed(seed, _BLOCKS_SALT, group, i))
    return tf.data.Dataset.from_tensor_slices(
        tf.nest.map_structure(lambda t: tf.gather(t, order), block))
  return blocks.flat_map(permuted)


def element_seed(seed, pos):
  """[2] int64 stateless seed of the element at position `pos` (its augmentations)."""
  return _seed(seed, _ELEMENTS_SALT, pos)
