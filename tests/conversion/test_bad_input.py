"""Checkpoints that do not fit: fail fast and say why; missing/truncated files are named;
--allow_partial reports what stayed at initialization; training-layout checkpoints convert.

Foreign layouts are made from the original's fixtures with `testing.write_checkpoint` (any key
set, written as a checkpoint bundle), so no code of the original is needed.
"""

import os
import shutil
import sys

import numpy as np
import pytest

from object_detection import convert_checkpoint
from object_detection.builders import conversion_builder
from object_detection.config import loader
from object_detection.conversion import converter
from object_detection.conversion import object_graph
from object_detection.conversion import original_checkpoint
from object_detection.conversion import restore
from object_detection.conversion.testing import checkpoint_tensors, write_checkpoint
from object_detection.core.errors import DataError

DEEPMAC = "deepmac_hg10_hourglass10_head"


@pytest.fixture(scope="module")
def deepmac_model(fixture_dirs):
  """The hourglass10-head DeepMAC of the fixture config, variables built."""
  pipeline = loader.load_pipeline_config(str(fixture_dirs[DEEPMAC] / "pipeline.config"))
  return conversion_builder.build_with_variables(pipeline.model)


@pytest.fixture(scope="module")
def deepmac_tensors(fixture_dirs):
  prefix = original_checkpoint.locate(str(fixture_dirs[DEEPMAC]))
  return checkpoint_tensors(prefix)


def _error(model, path, **kwargs):
  with pytest.raises(converter.ConversionError) as info:
    restore.restore_original(model, str(path), **kwargs)
  return str(info.value)


def test_plain_centernet_checkpoint_into_deepmac_names_the_family(deepmac_model, fixture_dirs):
  message = _error(deepmac_model, fixture_dirs["centernet_hg10_detection"])
  assert "mapped 82 of 82 variables" in message
  assert "variables of this model the checkpoint does not hold" in message
  assert "model/_deepmac_task/mask_net/project_out/kernel" in message
  assert "likely cause: the checkpoint is a CenterNet model, the config builds DeepMAC" in message


def test_other_mask_network_names_both_network_types(deepmac_model, fixture_dirs):
  message = _error(deepmac_model, fixture_dirs["deepmac_hg10_resnet4_head"])
  assert "mapped 92 of 125 variables" in message
  assert "checkpoint variables this model has no place for (32)" in message
  assert "model/_mask_net/_net/input_layer/bias" in message
  assert ("mask network (network_type): checkpoint has resnet4, this config builds "
          "hourglass10") in message


def test_other_num_classes_names_both_counts(deepmac_model, deepmac_tensors, tmp_path):
  head = "model/_prediction_head_dict/object_center/0/layer_with_weights-1/"
  tensors = dict(deepmac_tensors)
  del tensors["_CHECKPOINTABLE_OBJECT_GRAPH"]
  tensors[head + "kernel" + object_graph.VALUE_SUFFIX] = np.zeros([1, 1, 256, 90], np.float32)
  tensors[head + "bias" + object_graph.VALUE_SUFFIX] = np.zeros([90], np.float32)
  prefix = write_checkpoint(tmp_path / "ckpt-90", tensors)
  message = _error(deepmac_model, prefix)
  assert "shape mismatches (ours <- original) (2)" in message
  assert ("model/_tasks/0/center_heads/0/out_conv/bias [5] <- "
          f"{head}bias [90]") in message
  assert "likely cause: num_classes: checkpoint has 90, this config builds 5" in message


def test_other_backbone_depth_names_both_extractors(fixture_dirs):
  pipeline = loader.load_pipeline_config(
      str(fixture_dirs[DEEPMAC] / "pipeline.config"),
      overrides=["model.center_net.feature_extractor.type=hourglass_20"])
  model = conversion_builder.build_with_variables(pipeline.model)
  message = _error(model, fixture_dirs[DEEPMAC])
  assert ("backbone: checkpoint has hourglass_10 (1 stack(s), 32 stem channels" in message
          and "this config builds hourglass_20 or hourglass_32 (1 stack(s), 48 stem channels"
          in message), message


def test_allow_partial_leaves_the_rest_and_reports_it(deepmac_model, deepmac_tensors, tmp_path):
  head = "model/_prediction_head_dict/object_center/0/layer_with_weights-1/"
  tensors = {k: v for k, v in deepmac_tensors.items() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}
  tensors[head + "kernel" + object_graph.VALUE_SUFFIX] = np.zeros([1, 1, 256, 90], np.float32)
  tensors[head + "bias" + object_graph.VALUE_SUFFIX] = np.zeros([90], np.float32)
  prefix = write_checkpoint(tmp_path / "ckpt-1", tensors)
  variables = object_graph.canonical_variables({"model": deepmac_model})
  before = variables["model/_tasks/0/center_heads/0/out_conv/bias"].numpy().copy()
  plan = restore.restore_original(deepmac_model, prefix, allow_partial=True)
  assert not plan.complete and len(plan.pairs) == 160
  report = plan.summary()
  assert "mapped 160 of 163" in report and "shape mismatches" in report
  np.testing.assert_array_equal(variables["model/_tasks/0/center_heads/0/out_conv/bias"].numpy(),
                                before)
  stem = "model/_feature_extractor/_network/downsample_input/conv_block/conv/kernel"
  np.testing.assert_array_equal(variables[stem].numpy(),
                                tensors[stem + object_graph.VALUE_SUFFIX])


def test_training_layout_ignores_optimizer_state(deepmac_model, deepmac_tensors, tmp_path):
  """The original's training checkpoints add `step`, `optimizer/...` and slot variables."""
  tensors = {k: v for k, v in deepmac_tensors.items() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}
  kernel = "model/_feature_extractor/_network/output_conv/0/conv/kernel"
  for slot in ("m", "v"):
    tensors[f"{kernel}/.OPTIMIZER_SLOT/optimizer/{slot}{object_graph.VALUE_SUFFIX}"] = \
        np.ones([3, 3, 64, 64], np.float32)
  tensors["optimizer/iter" + object_graph.VALUE_SUFFIX] = np.array(60, np.int64)
  tensors["optimizer/learning_rate" + object_graph.VALUE_SUFFIX] = np.array(1e-3, np.float32)
  tensors["step" + object_graph.VALUE_SUFFIX] = np.array(60, np.int64)
  prefix = write_checkpoint(tmp_path / "ckpt-60", tensors)
  ckpt = original_checkpoint.read(prefix)
  assert sorted(ckpt.ignored) == ["optimizer", "other", "slots", "step"]  # other: save_counter
  assert len(ckpt.ignored["slots"]) == 2
  plan = restore.restore_original(deepmac_model, prefix)
  assert plan.complete and len(plan.pairs) == 162


def test_missing_and_truncated_files_are_named(fixture_dirs, tmp_path):
  src = original_checkpoint.locate(str(fixture_dirs[DEEPMAC]))
  with pytest.raises(DataError, match=r"ckpt-7\.index: checkpoint index file not found"):
    original_checkpoint.read(str(tmp_path / "ckpt-7"))
  with pytest.raises(DataError, match="no checkpoint in this directory"):
    original_checkpoint.read(str(tmp_path))
  shutil.copy(src + ".index", tmp_path / "ckpt-0.index")
  with pytest.raises(DataError, match=r"ckpt-0\.data-00000-of-00001: checkpoint data file not "
                                      "found"):
    original_checkpoint.read(str(tmp_path / "ckpt-0"))
  data = src + ".data-00000-of-00001"
  with open(data, "rb") as f:
    head = f.read(os.path.getsize(data) // 2)
  (tmp_path / "ckpt-0.data-00000-of-00001").write_bytes(head)
  with pytest.raises(DataError, match=r"ckpt-0\.data-00000-of-00001: checkpoint data is "
                                      r"truncated \(got \d+ bytes"):
    original_checkpoint.read(str(tmp_path / "ckpt-0"))
  (tmp_path / "ckpt-0.index").write_bytes(b"not an index")
  with pytest.raises(DataError, match=r"ckpt-0\.index: not a readable TensorFlow checkpoint"):
    original_checkpoint.read(str(tmp_path / "ckpt-0"))


def test_command_line_fails_with_one_line_and_writes_nothing(fixture_dirs, tmp_path, capsys,
                                                             monkeypatch):
  out = tmp_path / "out"
  monkeypatch.setattr(sys, "argv", [
      "convert_checkpoint", f"--pipeline_config_path={fixture_dirs[DEEPMAC] / 'pipeline.config'}",
      f"--original_checkpoint={fixture_dirs['deepmac_hg10_resnet4_head']}", f"--output_dir={out}"])
  with pytest.raises(SystemExit) as exit_info:
    convert_checkpoint.run()
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert err.startswith("error: --original_checkpoint")
  assert "likely cause: mask network (network_type)" in err
  assert not out.exists() and os.listdir(tmp_path) == []
