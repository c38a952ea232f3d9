"""The mobile story: CenterNet + DeepMAC on MobileNetV2-FPN, built from the shipped
configs/tf2/center_net_deepmac_mobilenetv2fpn_512x512_coco_tpu-8.config (its backbone, FPN with
separable convs, hourglass20 mask head, padded keep-aspect resizer), exported by
exporter_main_v2 --output_format=tflite (export/litert_export.py), run by the LiteRT interpreter
against the SavedModel.

Tiny: 64x64 input, 4 classes, 8 detections, 16x16 masks (the MobileNetV2 backbone is full
width; its cost at 64x64 is small). Inputs: a square image and a 48x80 one (padded to 64x64
inside the graph, so the true-image clipping runs).

Weights: seeded random, every convolution kernel drawn N(0, 1/fan_in) (variance preserving).
The original's detection initialiser (truncated normal, stddev 0.09) shrinks the signal at each
of MobileNetV2's 17 depthwise convolutions, so with it the features reaching the heads are ~1e-6
and every output is the heads' biases: a tolerance check on such outputs could not fail. The
centre head's output kernel is then scaled by 10, so the 8 scores spread (measured 0.34..0.45)
instead of all lying within 1e-6 of sigmoid(bias).

Tolerance: float32 LiteRT within 1e-5 of the SavedModel on every output (boxes, scores,
classes, masks; measured max |diff| 2.4e-7, printed by the test). Both run float32 kernels;
LiteRT's XNNPACK convolutions sum in other orders (1-ulp differences per layer, ~100 layers). The detections are compared in the
SavedModel's order, so the test also fails if a rounding difference reorders two peaks (scores
of random weights are spread enough that it does not: the smallest gap between consecutive
scores is asserted above the tolerance).
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from object_detection import exporter_main_v2
from object_detection.builders import model_builder
from object_detection.config import loader
from object_detection.export import litert_export

pytestmark = pytest.mark.slow  # end to end: build, export, convert (~40 CPU-seconds)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "configs", "tf2",
                      "center_net_deepmac_mobilenetv2fpn_512x512_coco_tpu-8.config")
TINY = ["model.center_net.num_classes=4",
        "model.center_net.image_resizer.keep_aspect_ratio_resizer.min_dimension=64",
        "model.center_net.image_resizer.keep_aspect_ratio_resizer.max_dimension=64",
        "model.center_net.object_center_params.max_box_predictions=8",
        "model.center_net.deepmac_mask_estimation.mask_size=16"]
SIZES = [(64, 64), (48, 80)]
ATOL = 1e-5


def _variance_preserving_weights(model, seed):
  """Every conv kernel (regular, depthwise, pointwise) <- N(0, 1/fan_in); the centre head's
  output kernel x 10 (see the module doc)."""
  rng = np.random.default_rng(seed)
  kernels = [v for v in model.trainable_variables if len(v.shape) == 4]
  assert len(kernels) > 60, len(kernels)
  # The centre head (center_0: 3x3 conv, ReLU, 1x1 conv 256 -> num_classes); keras numbers the
  # conv layers per process, so the output conv is found by its shape.
  (center_output,) = [v for v in kernels if v.path.startswith("center_0/")
                      and tuple(v.shape) == (1, 1, 256, 4)]
  for v in kernels:
    h, w, channels_in, _ = v.shape
    # block_N_depthwise/kernel, separable_conv2d/depthwise_kernel: [h, w, channels, 1]
    fan_in = h * w if "depthwise" in v.path else h * w * channels_in
    scale = 10.0 if v is center_output else 1.0
    v.assign(scale * rng.normal(0, np.sqrt(1 / fan_in), v.shape).astype(np.float32))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  """-> (export dir, pipeline): a seeded checkpoint of the tiny model, exported with .tflite."""
  root = tmp_path_factory.mktemp("mobile_deepmac")
  keras.utils.set_random_seed(3)
  pipeline = loader.load_pipeline_config(CONFIG, overrides=TINY)
  model = model_builder.build(pipeline.model, is_training=False)
  pre, shapes = model.preprocess(tf.zeros([1, 64, 64, 3]))
  model.postprocess(model.predict(pre, shapes), shapes)
  _variance_preserving_weights(model, seed=0)
  tf.train.CheckpointManager(tf.train.Checkpoint(step=tf.Variable(1, dtype=tf.int64),
                                                 model=model),
                             str(root / "train"), 1).save(checkpoint_number=1)
  assert exporter_main_v2.main([
      "--input_type", "image_tensor", f"--pipeline_config_path={CONFIG}",
      f"--trained_checkpoint_dir={root / 'train'}", f"--output_directory={root / 'out'}",
      "--output_format=saved_model,tflite"] + TINY) == 0
  return root / "out", pipeline


def test_the_model_is_the_mobile_deepmac_one(exported):
  _, pipeline = exported
  center_net = pipeline.model.center_net
  assert center_net.feature_extractor.type == "mobilenet_v2_fpn"
  assert center_net.feature_extractor.use_separable_conv
  assert center_net.deepmac_mask_estimation.network_type == "hourglass20"


def test_litert_matches_the_saved_model_masks_included(exported):
  out, _ = exported
  assert sorted(os.listdir(out)) == ["checkpoint", "model.tflite", "pipeline.config",
                                     "saved_model"]
  loaded = tf.saved_model.load(str(out / "saved_model"))
  runner = litert_export.LiteRTRunner(str(out / litert_export.file_name("none")))
  assert sorted(runner.signatures()) == ["image_and_boxes", "serving_default"]
  rng = np.random.default_rng(0)
  boxes = np.array([[[0.1, 0.2, 0.6, 0.7], [0.3, 0.0, 1.0, 0.8]]], np.float32)
  diffs, score_ranges = {}, []
  for h, w in SIZES:
    image = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    want = {k: v.numpy() for k, v in loaded(tf.constant(image)).items()}
    got = runner("serving_default", input_tensor=image)
    assert sorted(got) == sorted(want)
    assert want["detection_masks"].shape == (1, 8, 16, 16)
    scores = np.sort(want["detection_scores"][0])
    score_ranges.append((float(scores[0]), float(scores[-1])))
    assert np.diff(scores).min() > ATOL, scores  # the order is not at the tolerance's mercy
    for key in want:
      assert got[key].shape == want[key].shape and got[key].dtype == want[key].dtype, key
      diffs[f"{key} {h}x{w}"] = float(np.abs(got[key] - want[key]).max())
    np.testing.assert_array_equal(got["detection_classes"], want["detection_classes"])
    want_p = loaded.signatures["image_and_boxes"](input_tensor=tf.constant(image),
                                                  boxes=tf.constant(boxes))
    got_p = runner("image_and_boxes", input_tensor=image, boxes=boxes)
    assert got_p["detection_masks"].shape == (1, 2, 16, 16)
    diffs[f"prompted masks {h}x{w}"] = float(
        np.abs(got_p["detection_masks"] - want_p["detection_masks"].numpy()).max())
    # Masks of a random model are not constant: a mask check that could not fail would be.
    assert np.ptp(want["detection_masks"]) > 1e-3 and np.ptp(want_p["detection_masks"]) > 1e-3
  assert max(diffs.values()) <= ATOL, diffs
  print("max |LiteRT - SavedModel|:", diffs, "scores:", score_ranges)
