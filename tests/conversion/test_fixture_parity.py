"""Whole-model parity on the original's own checkpoints (../shared/reference/checkpoints).

For each fixture (CenterNet HG-10; DeepMAC HG-10 with an hourglass10 / resnet4 mask head, each
trained briefly and exported by the original's exporter_main_v2.py): convert_checkpoint maps every
variable, our model restored from the converted checkpoint runs the same `image_tensor` serving
function as our exported SavedModel on the fixture's 4 images, and its outputs equal the
original's `expected_outputs.npz`: boxes, strided boxes, scores, multiclass scores, classes,
num_detections and masks.

Tolerance: 1e-5 absolute on every probability (scores, multiclass scores, masks) and normalized
box coordinate, 1e-4 on strided boxes (output cells, up to 32) and classes exactly. Why this is
the right bound: both sides compute in float32 with the same TensorFlow kernels, and the only
legitimate difference is the order of float32 sums (oneDNN picks convolution algorithms by shape
and machine; a 3x3x256 conv sums 2,304 products, ~30 such layers here), worth ~1e-6 relative on
values of order 1. Measured on the development machine: 0 on boxes, scores and classes, at most
1.3e-6 on masks. Anything wrong in the conversion (a swapped batch-norm statistic, a transposed
kernel, a kernel of one head restored into another, a crop off by one cell) moves these outputs
by 1e-3 or more. Detections whose scores tie within the tolerance may come out in either order,
so they are matched one to one on (class, score, box) before comparing.
"""

import numpy as np
import pytest
import tensorflow as tf

from object_detection import convert_checkpoint
from object_detection.builders import model_builder
from object_detection.config import loader
from object_detection.conversion import object_graph
from object_detection.export import exporter_lib
from object_detection.export import signatures

from object_detection.conversion.testing import FIXTURES, expected_outputs, read_manifest

PROB_ATOL = 1e-5
BOX_ATOL = 1e-5
STRIDED_ATOL = 1e-4


@pytest.fixture(scope="module", params=FIXTURES)
def converted(request, fixture_dirs, tmp_path_factory):
  """(name, plan, output dir, fixture dir): convert_checkpoint run on one fixture."""
  name = request.param
  src = fixture_dirs[name]
  out = tmp_path_factory.mktemp(name) / "converted"
  plan = convert_checkpoint.convert(str(src / "pipeline.config"), str(src), str(out),
                                    log=lambda *_: None)
  return name, plan, out, src


@pytest.fixture(scope="module", params=FIXTURES)
def restored(request, fixture_dirs):
  """(name, our outputs per image, expected outputs): our model built from the fixture's
  pipeline.config with the ORIGINAL checkpoint directory restored into it (the transparent path
  that export, eval and inference take), run through the serving function's body."""
  name = request.param
  src = fixture_dirs[name]
  pipeline = loader.load_pipeline_config(str(src / "pipeline.config"))
  model = model_builder.build(pipeline.model, is_training=False)
  exporter_lib.restore_model(model, str(src))
  module = signatures.DetectionModule(model)
  expected = expected_outputs(src)
  # The 4 images in one batch (same size): the serving body is batch-agnostic.
  batch = module._detect(tf.constant(expected["images"], tf.float32))  # pylint: disable=protected-access
  ours = [{k: v.numpy()[i] for k, v in batch.items()} for i in range(len(expected["images"]))]
  return name, ours, expected


def test_every_variable_of_the_original_is_mapped(converted):
  name, plan, _, src = converted
  listed = [k for k in read_manifest(src / "variables.tsv") if k.startswith("model/")]
  assert plan.complete, plan.summary()
  assert plan.num_original == len(listed)
  skipped = [k for k, _ in plan.original_only]
  expected_skips = [] if name == "centernet_hg10_detection" else [
      "model/_self_supervised_rng/_state_var"]
  assert skipped == expected_skips
  assert len(plan.pairs) == len(listed) - len(skipped)


def test_converted_checkpoint_holds_the_original_values(converted):
  """Every mapped value is copied bit for bit, and the converted checkpoint restores with our
  own (non-converting) restore."""
  _, plan, out, src = converted
  ours = tf.train.load_checkpoint(str(out / "checkpoint" / "ckpt-0"))
  theirs = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(src / "checkpoint")))
  by_canonical = {object_graph.canonical_key(k): k for k in ours.get_variable_to_shape_map()}
  for our_key, original_key in plan.pairs:
    np.testing.assert_array_equal(
        ours.get_tensor(by_canonical[our_key]),
        theirs.get_tensor(original_key + object_graph.VALUE_SUFFIX), err_msg=our_key)
  assert int(ours.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == 0
  assert (out / "pipeline.config").exists() and (out / "conversion_report.txt").exists()


def _match(ours, theirs):
  """Permutation p with ours[p[i]] matching theirs[i] on class, score and box (within tol)."""
  free = list(range(len(theirs["detection_scores"])))
  order = []
  for i in range(len(theirs["detection_scores"])):
    for j in free:
      if (ours["detection_classes"][j] == theirs["detection_classes"][i]
          and abs(ours["detection_scores"][j] - theirs["detection_scores"][i]) <= PROB_ATOL
          and np.abs(ours["detection_boxes"][j] - theirs["detection_boxes"][i]).max()
          <= BOX_ATOL):
        order.append(j)
        free.remove(j)
        break
    else:
      raise AssertionError(f"detection {i} of the original (class "
                           f"{theirs['detection_classes'][i]}, score "
                           f"{theirs['detection_scores'][i]:.6f}) has no match in ours")
  return np.array(order)


def test_outputs_equal_the_originals(restored):
  name, ours, expected = restored
  keys = sorted(k for k in expected if k.startswith(("detection", "num_")))
  assert sorted(ours[0]) == keys, name
  for index, out in enumerate(ours):
    theirs = {k: expected[k][index] for k in keys}
    assert out["num_detections"] == theirs["num_detections"]
    np.testing.assert_allclose(out["detection_scores"], theirs["detection_scores"],
                               atol=PROB_ATOL, rtol=0)
    order = _match(out, theirs)
    for key in keys:
      if key == "num_detections":
        continue
      mine = out[key][order]
      atol = {"detection_classes": 0.0, "detection_boxes_strided": STRIDED_ATOL,
              "detection_boxes": BOX_ATOL}.get(key, PROB_ATOL)
      np.testing.assert_allclose(mine, theirs[key], atol=atol, rtol=0,
                                 err_msg=f"{name} image {index} {key}")
