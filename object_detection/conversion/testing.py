"""Test scaffolding for checkpoint conversion: manifests, hand-made checkpoints, fixtures.

Used by tests/conversion and the reference-parity benchmark; no test framework imports here.
"""

import numpy as np
import tensorflow as tf

# The original's own small checkpoints in ../shared/reference/checkpoints.
FIXTURES = ("centernet_hg10_detection", "deepmac_hg10_hourglass10_head",
            "deepmac_hg10_resnet4_head")


def read_manifest(path):
  """{key: shape list} of a `name<TAB>shape<TAB>dtype` listing (variables.tsv or a manifest)."""
  rows = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      if line.startswith("#") or line.startswith("name\t") or not line.strip():
        continue
      name, shape, _ = line.rstrip("\n").split("\t")
      rows[name] = [int(d) for d in shape.strip("[]").split(",") if d.strip()]
  return rows


def write_checkpoint(prefix, tensors):
  """Writes a checkpoint bundle holding exactly `tensors` ({full key: numpy array}).

  Lets a test lay out any key set of the original (a training checkpoint with optimizer slots, a
  foreign or partial one) without the original's code. Returns the prefix.
  """
  names = sorted(tensors)
  tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                    tensors=[tf.constant(tensors[n]) for n in names])
  return str(prefix)


def checkpoint_tensors(prefix):
  """{key: numpy value} of every entry of a checkpoint (the object graph included)."""
  reader = tf.train.load_checkpoint(str(prefix))
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}


def expected_outputs(fixture_dir):
  """The arrays of a fixture's expected_outputs.npz (images and the serving outputs)."""
  with np.load(f"{fixture_dir}/expected_outputs.npz") as data:
    return {k: data[k] for k in data.files}
