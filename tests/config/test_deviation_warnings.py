"""Configs affected by a deliberate difference from the original are warned about at load time
(config/deviations.py; the ids are the entries of docs/DEVIATIONS.md)."""

import logging
import pathlib

import pytest

from object_detection.config import deviations
from object_detection.config import loader

REPO = pathlib.Path(__file__).resolve().parents[2]
SHAPES = REPO / "configs" / "tf2" / "center_net_deepmac_hourglass10_128x128_shapes_cpu.config"
HG104_512 = REPO / "configs" / "tf2" / "center_net_deepmac_512x512_voc_only_tpu-32.config"
DEEPMAC = "model.center_net.deepmac_mask_estimation"


def _ids(path, overrides=()):
  return deviations.warn_about(loader.load_pipeline_config(str(path), overrides=list(overrides)))


def test_paper_config_pads_non_square_images():
  assert _ids(HG104_512) == ["D1", "D5"]


def test_unpadded_config_is_not_affected():
  assert _ids(SHAPES) == []


@pytest.mark.parametrize("field,deviation", [("box_consistency_loss_weight", "D2"),
                                             ("color_consistency_loss_weight", "D3")])
def test_crop_mode_weak_losses(field, deviation):
  assert _ids(SHAPES, [f"{DEEPMAC}.{field}=1.0"]) == [deviation]
  # With full-resolution masks both sides compute the loss the same way; only the output-mask
  # difference of full-resolution mode (D6) remains.
  assert _ids(SHAPES, [f"{DEEPMAC}.{field}=1.0",
                       f"{DEEPMAC}.predict_full_resolution_masks=true"]) == ["D6"]


MOBILE_DEEPMAC = REPO / "configs" / "tf2" / "center_net_deepmac_mobilenetv2fpn_512x512_coco_tpu-8.config"
MOBILE_FPN = REPO / "configs" / "tf2" / "centernet_mobilenetv2fpn_512x512_coco17_od.config"


def test_mobile_backbones():
  # Sets use_separable_conv with the _sep_conv type, and use_depthwise (CenterNet honours it in
  # the original too); it pads (D1).
  assert _ids(MOBILE_FPN) == ["D1"]
  bare = loader.load_pipeline_config(str(MOBILE_FPN))
  bare.model.center_net.feature_extractor.ClearField("use_separable_conv")
  assert deviations.warn_about(bare) == ["D1", "D9"]
  assert _ids(MOBILE_DEEPMAC) == ["D1", "D5"]
  assert _ids(MOBILE_DEEPMAC, ["model.center_net.use_depthwise=true"]) == ["D1", "D5", "D10"]


def test_moving_average_export():
  assert _ids(SHAPES, ["train_config.optimizer.use_moving_average=true"]) == ["D4"]


def test_each_warning_is_logged_once_with_its_reference(caplog, monkeypatch):
  monkeypatch.setattr(deviations, "_WARNED", set())
  with caplog.at_level(logging.WARNING, logger="object_detection.config.deviations"):
    _ids(SHAPES, [f"{DEEPMAC}.box_consistency_loss_weight=1.0"])
    _ids(SHAPES, [f"{DEEPMAC}.box_consistency_loss_weight=1.0"])
  records = [r.getMessage() for r in caplog.records if "D2" in r.getMessage()]
  assert len(records) == 1
  assert records[0].startswith(f"{SHAPES}: D2: {DEEPMAC}.box_consistency_loss_weight with RoI "
                               "crops")
  assert records[0].endswith("(docs/DEVIATIONS.md#d2)")
