"""Seeded record order whose tf.data iterator state is small enough to go in every checkpoint.

A resumed training run continues exactly where the interrupted one stopped when the train loop
saves the input iterator with the checkpoint (`tf.train.Checkpoint(data=iterator)`). With the
default ("explicit") iterator checkpointing tf.data writes every buffered element: the 2048
serialized records of a `shuffle` buffer (hundreds of MB with COCO images) plus the decoded
batches waiting in `prefetch`. With `experimental_symbolic_checkpoint` the maps, batches and
prefetches save only positions, but `shuffle` still saves its buffer and a parallel `interleave`
hangs on restore (TF 2.21). So the seeded (training) order is built from parts that save a few
KB:

    files -> one stateless permutation per epoch, keyed by (seed, epoch)     [epoch_file_order]
          -> interleave(cycle_length, block_length), sequential
          -> consecutive blocks of `block_size` records, each permuted by
             (seed, block index), the next block read ahead by one prefetch   [block_shuffle]
          -> (decode, augment with per-element seeds from (seed, element index), batch,
             prefetch: dataset_builder)

On restore tf.data re-reads the current block from its start (one shuffle buffer's worth of
raw records, not decoded) and skips what was already consumed.

Differences from the original's order (docs/DEVIATIONS.md): file names are fully permuted per
epoch (the original: a 100-name shuffle buffer); records are permuted within consecutive blocks
of `shuffle_buffer_size` (the original: a sliding shuffle buffer of that size); files are read
by a sequential interleave.
"""

import tensorflow as tf

# Salts separating the seeds of the different random choices of one run.
_FILES_SALT = 1
_BLOCKS_SALT = 2
_ELEMENTS_SALT = 3


def options():
  """tf.data.Options for a pipeline whose iterator is checkpointed (positions only)."""
  opts = tf.data.Options()
  opts.experimental_symbolic_checkpoint = True
  opts.deterministic = True
  return opts


def _seed(seed, salt, index):
  """[2] int64 stateless seed for (run seed, salt) folded with `index`."""
  base = tf.constant([int(seed), salt], tf.int64)
  return tf.random.experimental.stateless_fold_in(base, tf.cast(index, tf.int64))


def epoch_file_order(files, num_epochs, shuffle, seed):
  """Dataset of file names: `num_epochs` (0 = forever) passes over `files`, each pass in the
  permutation keyed by (seed, epoch) when `shuffle`."""
  files = tf.constant(list(files))
  epochs = tf.data.Dataset.range(num_epochs) if num_epochs else tf.data.Dataset.counter()
  if not shuffle:
    return epochs.flat_map(lambda e: tf.data.Dataset.from_tensor_slices(files))
  return epochs.flat_map(lambda e: tf.data.Dataset.from_tensor_slices(
      tf.random.experimental.stateless_shuffle(files, seed=_seed(seed, _FILES_SALT, e))))


def block_shuffle(dataset, block_size, seed):
  """Permutes consecutive blocks of `block_size` elements, each by the seed (seed, block index).

  The last, partial block of a finite dataset is permuted too. Memory: two blocks (the next one
  is read ahead while the current one is emitted).
  """
  blocks = dataset.batch(max(1, int(block_size))).enumerate()
  return blocks.flat_map(lambda i, block: tf.data.Dataset.from_tensor_slices(
      tf.random.experimental.stateless_shuffle(block, seed=_seed(seed, _BLOCKS_SALT, i))))


def with_element_seeds(dataset, seed):
  """Zips each element with its [2] int64 stateless seed keyed by (seed, element index)."""
  return dataset.enumerate().map(lambda i, x: (x, _seed(seed, _ELEMENTS_SALT, i)))
