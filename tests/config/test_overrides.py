"""key=value and text-format overrides."""

import pytest

from object_detection.config import apply_overrides, load_pipeline_config, merge_text_override
from object_detection.config.loader import parse_pipeline_text
from object_detection.core.errors import ConfigError
from object_detection.protos import input_reader_pb2


@pytest.fixture
def pipeline(deepmac_text):
  return parse_pipeline_text(deepmac_text)


def test_scalar_overrides(pipeline):
  apply_overrides(pipeline, ["model.center_net.num_classes=5", "train_config.batch_size=8",
                             "train_config.optimizer.adam_optimizer.epsilon=1e-8",
                             "eval_config.use_moving_averages=true"])
  assert pipeline.model.center_net.num_classes == 5
  assert pipeline.train_config.batch_size == 8
  assert pipeline.train_config.optimizer.adam_optimizer.epsilon == pytest.approx(1e-8)
  assert pipeline.eval_config.use_moving_averages


def test_repeated_scalar_is_replaced(pipeline):
  key = "model.center_net.deepmac_mask_estimation.allowed_masked_classes_ids"
  apply_overrides(pipeline, [f"{key}=1,2,3"])
  assert list(pipeline.model.center_net.deepmac_mask_estimation.allowed_masked_classes_ids) == [
      1, 2, 3]
  apply_overrides(pipeline, [f"{key}="])
  assert not pipeline.model.center_net.deepmac_mask_estimation.allowed_masked_classes_ids


def test_enum_string_and_index(pipeline):
  apply_overrides(pipeline, [
      "train_input_reader.mask_type=PNG_MASKS",
      "eval_input_reader[0].tf_record_input_reader.input_path=/data/val-*.tfrecord",
      "eval_input_reader.label_map_path='/data/map.txt'",
  ])
  assert pipeline.train_input_reader.mask_type == input_reader_pb2.PNG_MASKS
  assert list(pipeline.eval_input_reader[0].tf_record_input_reader.input_path) == [
      "/data/val-*.tfrecord"]
  assert pipeline.eval_input_reader[0].label_map_path == "/data/map.txt"


def test_appending_one_repeated_message_and_selecting_a_oneof(pipeline):
  apply_overrides(pipeline, [
      "eval_input_reader[1].num_epochs=1",
      "train_config.optimizer.momentum_optimizer.momentum_optimizer_value=0.8"])
  assert len(pipeline.eval_input_reader) == 2
  assert pipeline.eval_input_reader[1].num_epochs == 1
  assert pipeline.train_config.optimizer.WhichOneof("optimizer") == "momentum_optimizer"


def test_dict_overrides(pipeline):
  apply_overrides(pipeline, {"train_config.num_steps": 3, "train_input_reader.shuffle": False,
                             "model.center_net.deepmac_mask_estimation.allowed_masked_classes_ids":
                                 [2]})
  assert pipeline.train_config.num_steps == 3
  assert not pipeline.train_input_reader.shuffle
  assert list(pipeline.model.center_net.deepmac_mask_estimation.allowed_masked_classes_ids) == [2]


@pytest.mark.parametrize("override, message", [
    ("train_config.batch_sise=8",
     'train_config.batch_sise: no field "batch_sise" in TrainConfig (did you mean "batch_size"?)'),
    ("train_config.batch_size=eight",
     "train_config.batch_size: wrong value (got 'eight'; expected a non-negative integer)"),
    ("train_config.batch_size=-1",
     "train_config.batch_size: wrong value (got '-1'; expected a non-negative integer)"),
    ("eval_config.use_moving_averages=maybe",
     "eval_config.use_moving_averages: wrong value (got 'maybe'; expected true or false)"),
    ("train_input_reader.mask_type=PNG_MASK",
     "train_input_reader.mask_type: bad enum value (did you mean \"PNG_MASKS\"?) (got "
     "'PNG_MASK'; expected one of: DEFAULT, NUMERICAL_MASKS, PNG_MASKS)"),
    ("train_config.batch_size.x=1",
     "train_config.batch_size: not a message, cannot go further (got 'train_config.batch_size.x'; "
     "expected the path to end at batch_size)"),
    ("eval_input_reader[5].shuffle=false",
     "eval_input_reader[5]: index out of range (got 5; expected 0..1)"),
    ("train_config", "override 'train_config': missing '=' (expected field.path=value, e.g. "
     "train_config.batch_size=8)"),
])
def test_override_errors(pipeline, override, message):
  with pytest.raises(ConfigError) as info:
    apply_overrides(pipeline, [override])
  assert str(info.value) == message


def test_text_override_merges(pipeline):
  merge_text_override(pipeline,
                      "train_config { batch_size: 4 } eval_input_reader { shuffle: true }")
  assert pipeline.train_config.batch_size == 4
  assert pipeline.train_config.num_steps == 10  # untouched
  assert len(pipeline.eval_input_reader) == 2  # repeated fields append, as in the original


def test_text_override_error_names_its_source(pipeline):
  with pytest.raises(ConfigError) as info:
    merge_text_override(pipeline, "train_config { batch_sise: 4 }")
  assert str(info.value) == (
      'config_override:1:16: no field "batch_sise" in TrainConfig (did you mean "batch_size"?)')


def test_load_applies_overrides_then_validates(deepmac_text, write_config):
  path = write_config(deepmac_text)
  pipeline = load_pipeline_config(path, config_override="train_config { num_steps: 99 }",
                                  overrides=["model.center_net.num_classes=4"])
  assert pipeline.train_config.num_steps == 99
  assert pipeline.model.center_net.num_classes == 4
  with pytest.raises(ConfigError, match=r"class id out of range \(got 3; expected ids in 1\.\.2"):
    load_pipeline_config(path, overrides=["model.center_net.num_classes=2"])
