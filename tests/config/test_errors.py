"""Pinned error messages of config loading: what users see when a config is wrong."""

import re

import pytest

from object_detection.config import load_pipeline_config
from object_detection.core import registries
from object_detection.core.errors import ConfigError


def _replace(text, old, new):
  assert old in text, old
  return text.replace(old, new, 1)


def _error(path, **kwargs):
  with pytest.raises(ConfigError) as info:
    load_pipeline_config(path, **kwargs)
  return str(info.value)


def test_unknown_field_gives_file_line_col_and_did_you_mean(deepmac_text, write_config):
  path = write_config(_replace(deepmac_text, "    num_classes: 3", "    num_clases: 3"))
  assert _error(path) == (
      f'{path}:4:5: no field "num_clases" in CenterNet (did you mean "num_classes"?)')


def test_unknown_field_without_close_match_lists_fields(deepmac_text, write_config):
  path = write_config(_replace(deepmac_text, 'type: "hourglass_104"', 'kind: "hourglass_104"'))
  message = _error(path)
  assert message.startswith(f'{path}:6:7: no field "kind" in CenterNetFeatureExtractor '
                            "(expected one of: bgr_ordering, channel_means,")


def test_wrong_type(deepmac_text, write_config):
  path = write_config(_replace(deepmac_text, "batch_size: 2", 'batch_size: "two"'))
  assert _error(path) == (
      f'{path}:37:15: wrong value for field "batch_size" (got "two"; expected an integer)')


def test_wrong_bool(deepmac_text, write_config):
  path = write_config(_replace(deepmac_text, "      dim: 8", "      dim: 8\n      use_xy: maybe"))
  assert _error(path) == (
      f'{path}:28:15: wrong value for field "use_xy" (got maybe; expected true or false)')


def test_bad_enum_value_lists_allowed_values(deepmac_text, write_config):
  path = write_config(
      _replace(deepmac_text, "      dim: 8", "      dim: 8\n      jitter_mode: EXPANDED"))
  assert _error(path) == (
      f'{path}:28:20: bad value for field "jitter_mode" (did you mean "EXPAND"?) '
      "(got EXPANDED; expected one of: DEFAULT, EXPAND, SHRINK, EXPAND_SYMMETRIC, "
      "SHRINK_SYMMETRIC, EXPAND_SYMMETRIC_XY, SHRINK_SYMMETRIC_XY)")


def test_syntax_error_keeps_location(deepmac_text, write_config):
  path = write_config(deepmac_text + "eval_config {\n")
  assert re.fullmatch(rf"{re.escape(str(path))}:\d+:\d+: Expected .*", _error(path))


def test_class_id_out_of_range(deepmac_text, write_config):
  path = write_config(_replace(deepmac_text, "allowed_masked_classes_ids: [1, 3]",
                               "allowed_masked_classes_ids: [1, 3, 4, 0]"))
  assert _error(path) == (
      f"{path}: model.center_net.deepmac_mask_estimation.allowed_masked_classes_ids: class id "
      "out of range (got 4, 0; expected ids in 1..3, 1-based like the label map)")


def test_unknown_network_type(deepmac_text, write_config):
  registries.load_all()
  if "hourglass52" not in registries.DEEPMAC_MASK_NETWORKS:
    pytest.fail("the DeepMAC mask networks are not registered")
  path = write_config(_replace(deepmac_text, 'network_type: "hourglass52"',
                               'network_type: "hourglass5"'))
  message = _error(path)
  prefix = (f"{path}: model.center_net.deepmac_mask_estimation.network_type: unknown DeepMAC mask "
            "network_type 'hourglass5' (did you mean \"hourglass52\"?) (expected one of: ")
  assert message.startswith(prefix)
  assert "hourglass100" in message[len(prefix):]


def test_unknown_feature_extractor(deepmac_text, write_config):
  registries.load_all()
  if "hourglass_104" not in registries.CENTER_NET_FEATURE_EXTRACTORS:
    pytest.fail("the CenterNet feature extractors are not registered")
  path = write_config(_replace(deepmac_text, 'type: "hourglass_104"', 'type: "hourglas_104"'))
  message = _error(path)
  assert message.startswith(
      f"{path}: model.center_net.feature_extractor.type: unknown CenterNet feature extractor "
      "'hourglas_104' (did you mean \"hourglass_104\"?) (expected one of: ")


def test_registry_mechanism_with_a_test_registry(monkeypatch, deepmac_text, write_config):
  """The name check goes through core.registries (works for any registry content)."""
  from object_detection.core.registry import Registry  # pylint: disable=import-outside-toplevel
  fake = Registry("DeepMAC mask network_type")
  fake.register("tiny_head")(lambda params: None)
  monkeypatch.setattr(registries, "DEEPMAC_MASK_NETWORKS", fake)
  monkeypatch.setattr(registries, "load_all", lambda: None)
  path = write_config(_replace(deepmac_text, 'network_type: "hourglass52"',
                               'network_type: "tiny_heads"'))
  assert _error(path) == (
      f"{path}: model.center_net.deepmac_mask_estimation.network_type: unknown DeepMAC mask "
      "network_type 'tiny_heads' (did you mean \"tiny_head\"?) (expected one of: tiny_head)")


def test_unreadable_file(tmp_path):
  missing = tmp_path / "nope.config"
  assert _error(missing) == f"{missing}: cannot read config file (No such file or directory)"


def test_directory_is_unreadable(tmp_path):
  message = _error(tmp_path)
  assert message.startswith(f"{tmp_path}: cannot read config file (")


def test_several_problems_reported_together(deepmac_text, write_config):
  text = _replace(deepmac_text, "      dim: 8", "      dim: 0")
  text = _replace(text, "batch_size: 2", "batch_size: 0")
  path = write_config(text)
  assert _error(path) == (
      f"{path}: invalid config\n"
      "model.center_net.deepmac_mask_estimation.dim: must be positive (got 0; expected > 0)\n"
      "train_config.batch_size: must be positive (got 0; expected > 0)")


def test_two_augmentations_in_one_block(deepmac_text, write_config):
  path = write_config(_replace(deepmac_text, "  num_steps: 10", "  num_steps: 10\n"
                               "  data_augmentation_options {\n    random_horizontal_flip {}\n"
                               "    random_adjust_hue {}\n  }"))
  assert _error(path) == (
      f'{path}:41:5: "random_adjust_hue" and "random_horizontal_flip" are both set in one '
      'PreprocessingStep block but are alternatives of oneof "preprocessing_step" (got both; '
      "expected one; each augmentation goes in its own data_augmentation_options block)")


def test_repeated_singular_field_warns_and_keeps_last(deepmac_text, write_config, caplog):
  path = write_config(_replace(deepmac_text, "  num_steps: 10", "  num_steps: 10\n  num_steps: 20"))
  with caplog.at_level("WARNING"):
    pipeline = load_pipeline_config(path)
  assert pipeline.train_config.num_steps == 20
  assert f'{path}:39:14: "num_steps" is set more than once in TrainConfig' in caplog.text
