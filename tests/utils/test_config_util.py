"""The original's config_util names: configs dict, pipeline proto, external params."""

import pathlib

import pytest

from object_detection.core.errors import ConfigError
from object_detection.protos import input_reader_pb2
from object_detection.utils import config_util

_TINY_CONFIG = (pathlib.Path(__file__).resolve().parents[1] / "config" / "testdata"
                / "deepmac_tiny.config")


@pytest.fixture
def config_path(tmp_path):
  path = tmp_path / "pipeline.config"
  path.write_text(_TINY_CONFIG.read_text())
  return path


def test_configs_dict_keys_and_inverse(config_path):
  configs = config_util.get_configs_from_pipeline_file(str(config_path))
  assert set(configs) == {"model", "train_config", "train_input_config", "eval_config",
                          "eval_input_configs", "eval_input_config"}
  assert configs["eval_input_config"] is configs["eval_input_configs"][0]
  pipeline = config_util.create_pipeline_proto_from_configs(configs)
  assert config_util.create_configs_from_pipeline_proto(pipeline)["model"] == configs["model"]
  assert pipeline.train_config.batch_size == 2


def test_config_override_argument(config_path):
  configs = config_util.get_configs_from_pipeline_file(
      str(config_path), config_override="train_config { batch_size: 16 }")
  assert configs["train_config"].batch_size == 16


def test_save_pipeline_config(config_path, tmp_path):
  configs = config_util.get_configs_from_pipeline_file(str(config_path))
  pipeline = config_util.create_pipeline_proto_from_configs(configs)
  written = config_util.save_pipeline_config(pipeline, str(tmp_path / "out"))
  again = config_util.get_configs_from_pipeline_file(written)
  assert config_util.create_pipeline_proto_from_configs(again) == pipeline


def test_merge_known_keys(config_path):
  configs = config_util.get_configs_from_pipeline_file(str(config_path))
  merged = config_util.merge_external_params_with_configs(configs, kwargs_dict={
      "train_steps": 5, "batch_size": 3.6, "learning_rate": 0.002, "num_classes": 4,
      "train_input_path": "a.tfrecord", "eval_input_path": ["b.tfrecord", "c.tfrecord"],
      "label_map_path": "map.txt", "mask_type": "PNG_MASKS", "sample_1_of_n_eval_examples": 10,
      "eval_num_epochs": 1, "use_bfloat16": True, "eval_steps": None})
  assert merged["train_config"].num_steps == 5
  assert merged["train_config"].batch_size == 4  # rounded, as the original
  cosine = (merged["train_config"].optimizer.adam_optimizer.learning_rate
            .cosine_decay_learning_rate)
  assert cosine.learning_rate_base == pytest.approx(0.002)
  assert cosine.warmup_learning_rate == pytest.approx(0.0005)  # scaled by the same ratio (x2)
  assert merged["model"].center_net.num_classes == 4
  assert list(merged["train_input_config"].tf_record_input_reader.input_path) == ["a.tfrecord"]
  assert list(merged["eval_input_config"].tf_record_input_reader.input_path) == [
      "b.tfrecord", "c.tfrecord"]
  for reader in (merged["train_input_config"], merged["eval_input_config"]):
    assert reader.label_map_path == "map.txt"
    assert reader.mask_type == input_reader_pb2.PNG_MASKS
  assert merged["eval_input_config"].sample_1_of_n_examples == 10
  assert merged["eval_input_config"].num_epochs == 1
  assert merged["train_config"].use_bfloat16
  assert not merged["eval_config"].HasField("num_examples")  # None is skipped
  assert configs["train_config"].num_steps == 10  # the input dict is not modified


def test_merge_dotted_paths_and_hparams(config_path):
  class HParams:  # the original passes tf.contrib.training.HParams: anything with values()
    def values(self):
      return {"train_config.batch_size": 8}

  configs = config_util.get_configs_from_pipeline_file(str(config_path))
  merged = config_util.merge_external_params_with_configs(configs, hparams=HParams(), kwargs_dict={
      "model.center_net.deepmac_mask_estimation.allowed_masked_classes_ids": "1,2",
      "train_input_config.shuffle": False})
  assert merged["train_config"].batch_size == 8
  assert list(
      merged["model"].center_net.deepmac_mask_estimation.allowed_masked_classes_ids) == [1, 2]
  assert not merged["train_input_config"].shuffle


def test_merge_errors(config_path):
  configs = config_util.get_configs_from_pipeline_file(str(config_path))
  with pytest.raises(ConfigError) as info:
    config_util.merge_external_params_with_configs(configs, kwargs_dict={"train_step": 3})
  assert str(info.value).startswith(
      'train_step: unknown override (did you mean "train_steps"?) (expected one of: ')
  with pytest.raises(ConfigError, match=r"class id out of range \(got 3; expected ids in 1\.\.2"):
    config_util.merge_external_params_with_configs(configs, kwargs_dict={"num_classes": 2})


def test_small_getters(config_path):
  configs = config_util.get_configs_from_pipeline_file(str(config_path))
  assert config_util.get_number_of_classes(configs["model"]) == 3
  resizer = config_util.get_image_resizer_config(configs["model"])
  assert config_util.get_spatial_image_size(resizer) == [64, 64]
  assert config_util.get_optimizer_type(configs["train_config"]) == "adam_optimizer"
  assert config_util.get_learning_rate_type(
      configs["train_config"].optimizer.adam_optimizer) == "cosine_decay_learning_rate"


def test_get_configs_from_multiple_files(tmp_path):
  (tmp_path / "train.config").write_text("batch_size: 3")
  (tmp_path / "eval_input.config").write_text("shuffle: false")
  configs = config_util.get_configs_from_multiple_files(
      train_config_path=str(tmp_path / "train.config"),
      eval_input_config_path=str(tmp_path / "eval_input.config"))
  assert configs["train_config"].batch_size == 3
  assert not configs["eval_input_config"].shuffle


def test_merge_keeps_extra_keys(config_path):
  configs = config_util.get_configs_from_pipeline_file(str(config_path))
  configs["eval_on_train_input_config"] = input_reader_pb2.InputReader(shuffle=False)
  merged = config_util.merge_external_params_with_configs(
      configs, kwargs_dict={"sample_1_of_n_eval_on_train_examples": 5})
  assert merged["eval_on_train_input_config"].sample_1_of_n_examples == 5
  assert not merged["eval_on_train_input_config"].shuffle
  assert configs["eval_on_train_input_config"].sample_1_of_n_examples == 1  # input untouched
