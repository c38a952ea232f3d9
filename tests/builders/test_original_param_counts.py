"""Whole-model parameter counts equal the original's, for the ResNet extractors that the TF2 zoo
configs name and that no manifest or fixture covers.

Expected numbers were measured on the original (`../shared/reference/harness/ref_params.py`,
30 Nov 2026) on the same configs, each built with all its variables: trainable / all variables
(batch-norm moving statistics included). The Faster R-CNN ResNet-101/152 configs are the zoo's
ResNet-50 640x640 config with only `feature_extractor.type` changed, on both sides.
"""

import os

import numpy as np
import pytest

from object_detection.builders import conversion_builder
from object_detection.config import loader

CONFIGS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "configs", "tf2")
FASTER_RCNN = "faster_rcnn_resnet50_v1_640x640_coco17_tpu-8.config"


@pytest.mark.parametrize("config,extractor,trainable,total", [
    ("centernet_resnet50_v1_fpn_512x512_coco17_tpu-8.config", None, 25_277_214, 25_330_846),
    ("centernet_resnet101_v1_fpn_512x512_coco17_tpu-8.config", None, 44_295_454, 44_401_310),
    (FASTER_RCNN, "faster_rcnn_resnet101_keras", 47_450_855, 47_556_199),
    (FASTER_RCNN, "faster_rcnn_resnet152_keras", 63_094_503, 63_245_927),
])
def test_parameter_counts_equal_the_originals(config, extractor, trainable, total):
  overrides = ([f"model.faster_rcnn.feature_extractor.type={extractor}"] if extractor else [])
  pipeline = loader.load_pipeline_config(os.path.join(CONFIGS, config), overrides=overrides)
  model = conversion_builder.build_with_variables(pipeline.model)
  count = lambda variables: sum(int(np.prod(v.shape)) for v in variables)  # noqa: E731
  assert (count(model.trainable_variables), count(model.variables)) == (trainable, total)
