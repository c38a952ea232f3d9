"""Deviations D1 and D5 (docs/DEVIATIONS.md), pinned against the original's own outputs.

On a non-square image the resizer pads the input. The original masks CenterNet peaks with
`range(output_size) < true_image_shape` (output cells compared with input PIXELS), so peaks in the
padding survive and come out as boxes clipped to the image border; here only the cells inside the
true image, y < ceil(true_h / 4) and x < ceil(true_w / 4), give detections.

The original's SavedModel outputs on two crops of the fixture images (128x80 and 72x128) were
stored by benchmarks/reference/ref_nonsquare_outputs.py under the original's venv. Pinned: every
detection of the original whose peak lies inside the true image is also ours (same class, score,
box, and mask, within the parity tolerance of test_fixture_parity.py), every detection the
original has and we do not lies in the padding, such detections exist (the wide DeepMAC case has
7), and below the original's last score we only add peaks from inside the image.

D5: DeepMAC masks of a detection whose box reaches into the padding. The original crops the
pixel embedding at the strided box clipped to the PADDED map, then reports the mask in the frame
of `detection_boxes`, which is clipped to the true image: mask and box disagree. Here the crop is
the reported box. Pinned: such masks differ, and our mask head run at the original's crop box
gives the original's mask (so the crop box is the whole difference).
"""

import math
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from object_detection.builders import model_builder
from object_detection.config import loader
from object_detection.config import deviations
from object_detection.export import exporter_lib
from object_detection.export import signatures

TESTDATA = pathlib.Path(__file__).resolve().parents[1] / "testdata" / "conversion"
TOL = 1e-5
DROPPED_CENTERNET = [0, 0]  # the CenterNet fixture has no peak in the padding of these crops
STRIDE = 4


@pytest.fixture(scope="module", params=["centernet_hg10_detection",
                                        "deepmac_hg10_hourglass10_head"])
def nonsquare(request, fixture_dirs):
  name = request.param
  src = fixture_dirs[name]
  pipeline = loader.load_pipeline_config(str(src / "pipeline.config"))
  assert deviations.warn_about(pipeline) == (
      ["D1", "D5"] if pipeline.model.center_net.HasField("deepmac_mask_estimation") else ["D1"])
  model = model_builder.build(pipeline.model, is_training=False)
  exporter_lib.restore_model(model, str(src))
  module = signatures.DetectionModule(model)
  data = dict(np.load(TESTDATA / f"nonsquare_{name}.npz"))
  cases = []
  for i in range(2):
    image = data[f"image_{i}"]
    ours = {k: v.numpy()[0] for k, v in module._detect(  # pylint: disable=protected-access
        tf.constant(image[None], tf.float32)).items()}
    theirs = {k[:-2]: v for k, v in data.items() if k.endswith(f"_{i}") and k != f"image_{i}"}
    if "detection_masks" in theirs:
      # Our mask head at the ORIGINAL's crop boxes: strided boxes / padded output map size.
      pre, true_shapes = model.preprocess(tf.constant(image[None], tf.float32))
      predictions = model.predict(pre, true_shapes)
      out_size = np.array([pre.shape[1], pre.shape[2]] * 2, np.float32) / STRIDE
      crop = tf.constant(theirs["detection_boxes_strided"][None] / out_size)
      ours["masks_at_original_crop"] = model.deepmac_task.mask_probabilities(
          predictions, crop).numpy()[0]
    cases.append((image.shape, ours, theirs))
  return name, cases


def _valid_cells(image_shape):
  scale = 128 / max(image_shape[:2])
  return (math.ceil(round(image_shape[0] * scale) / STRIDE),
          math.ceil(round(image_shape[1] * scale) / STRIDE))


def _find(ours, theirs, i):
  for j in range(len(ours["detection_scores"])):
    if (ours["detection_classes"][j] == theirs["detection_classes"][i]
        and abs(ours["detection_scores"][j] - theirs["detection_scores"][i]) <= TOL
        and np.abs(ours["detection_boxes"][j] - theirs["detection_boxes"][i]).max() <= TOL):
      return j
  return None


def test_peaks_in_the_padding_are_the_only_difference(nonsquare):
  name, cases = nonsquare
  dropped, crossing_total = [], 0
  for shape, ours, theirs in cases:
    dropped.append(0)
    rows, cols = _valid_cells(shape)
    strided = theirs["detection_boxes_strided"]
    centre_y = (strided[:, 0] + strided[:, 2]) / 2
    centre_x = (strided[:, 1] + strided[:, 3]) / 2
    matched = []
    for i in range(len(theirs["detection_scores"])):
      j = _find(ours, theirs, i)
      if j is None:
        # Not ours: its peak is in the padding (centre = peak cell + offset < 1 cell).
        assert centre_y[i] > rows - 1 or centre_x[i] > cols - 1, (name, shape, i)
        dropped[-1] += 1
        continue
      matched.append(j)
      np.testing.assert_allclose(ours["detection_multiclass_scores"][j],
                                 theirs["detection_multiclass_scores"][i], atol=TOL, rtol=0)
      if "detection_masks" not in theirs:
        continue
      np.testing.assert_allclose(ours["masks_at_original_crop"][i], theirs["detection_masks"][i],
                                 atol=TOL, rtol=0)
      inside = strided[i, 2] <= rows and strided[i, 3] <= cols
      difference = np.abs(ours["detection_masks"][j] - theirs["detection_masks"][i]).max()
      if inside:
        assert difference <= TOL, (name, shape, i)
      else:  # D5: the box reaches into the padding
        assert difference > 1e-2, (name, shape, i)
        crossing_total += 1
    # Our other detections down to the original's last score are peaks inside the image.
    cutoff = theirs["detection_scores"].min()
    extra = [j for j in range(len(ours["detection_scores"]))
             if j not in matched and ours["detection_scores"][j] >= cutoff]
    for j in extra:
      box = ours["detection_boxes_strided"][j]
      assert (box[0] + box[2]) / 2 < rows + 1 and (box[1] + box[3]) / 2 < cols + 1
  # D1 is real: the original's detections in the padding, per image (tall, wide).
  assert dropped == {"centernet_hg10_detection": DROPPED_CENTERNET,
                     "deepmac_hg10_hourglass10_head": [2, 17]}[name]
  if name == "deepmac_hg10_hourglass10_head":
    assert crossing_total == 3  # D5: three masks of the tall image
