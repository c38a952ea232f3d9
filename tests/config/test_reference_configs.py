"""Every reference config and every shipped configs/tf2 config parses, round-trips and validates."""

import pathlib

import pytest
from google.protobuf import text_format

from object_detection.config import loader
from object_detection.protos import pipeline_pb2
from object_detection.utils import config_util

REPO = pathlib.Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "configs" / "tf2").glob("*.config"))
REFERENCE_NAMES = [
    "center_net_deepmac_1024x1024_coco_tpu-128.config",
    "center_net_deepmac_1024x1024_non_voc_only_tpu-128.config",
    "center_net_deepmac_1024x1024_voc_only_tpu-128.config",
    "center_net_deepmac_512x512_voc_only_tpu-32.config",
    "faster_rcnn_resnet50_v1_640x640_coco17_tpu-8.config",
    "mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8.config",
]


def _round_trip(path):
  text = pathlib.Path(path).read_text()
  first = loader.parse_pipeline_text(text, str(path))
  second = pipeline_pb2.TrainEvalPipelineConfig()
  text_format.Parse(text_format.MessageToString(first), second)
  return first, second


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_reference_config_round_trips_and_validates(name, shared_dir):
  path = shared_dir / "reference_configs" / name
  first, second = _round_trip(path)
  assert first == second
  assert first.model.WhichOneof("model") in ("center_net", "faster_rcnn")
  configs = config_util.get_configs_from_pipeline_file(str(path))
  assert configs["train_config"].batch_size > 0
  assert len(configs["eval_input_configs"]) == 1


def test_every_reference_config_is_shipped(shared_dir):
  names = sorted(p.name for p in (shared_dir / "reference_configs").glob("*.config"))
  assert names == REFERENCE_NAMES
  assert set(REFERENCE_NAMES) <= {p.name for p in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_config_round_trips_and_validates(path):
  first, second = _round_trip(path)
  assert first == second
  configs = config_util.get_configs_from_pipeline_file(str(path))
  assert configs["model"] == first.model


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_config_header_then_unchanged_body(path, shared_dir):
  text = path.read_text()
  header = text.split("\n# " + "=" * 76 + "\n", 1)[0]
  for label in ("# Paper:", "# Hardware:", "# Expected:", "python model_main_tf2.py",
                f"--pipeline_config_path=configs/tf2/{path.name}", "--model_dir="):
    assert label in header, label
  if path.name in REFERENCE_NAMES:  # copies of the originals: body unchanged
    body = text.split("\n# " + "=" * 76 + "\n", 1)[1]
    assert body == (shared_dir / "reference_configs" / path.name).read_text()


def test_deepmac_values_survive_loading(shared_dir):
  configs = config_util.get_configs_from_pipeline_file(
      str(shared_dir / "reference_configs" / "center_net_deepmac_512x512_voc_only_tpu-32.config"))
  deepmac = configs["model"].center_net.deepmac_mask_estimation
  assert deepmac.network_type == "hourglass52"
  assert deepmac.use_only_last_stage
  assert (deepmac.dim, deepmac.pixel_embedding_dim, deepmac.mask_size) == (32, 16, 32)
  assert list(deepmac.allowed_masked_classes_ids)[:3] == [1, 2, 3]
  assert len(deepmac.allowed_masked_classes_ids) == 20
  assert configs["eval_config"].super_categories["VOC"].startswith("person")


def test_fine_tune_type_is_normalised_to_detection(shared_dir):
  path = shared_dir / "reference_configs" / "center_net_deepmac_1024x1024_coco_tpu-128.config"
  assert 'fine_tune_checkpoint_type: "fine_tune"' in path.read_text()
  configs = config_util.get_configs_from_pipeline_file(str(path))
  assert configs["train_config"].fine_tune_checkpoint_type == "detection"
