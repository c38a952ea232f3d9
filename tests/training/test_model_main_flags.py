"""model_main_tf2 / exporter_main_v2 flags: the original's names and defaults, clear errors."""

import pytest

from object_detection import exporter_main_v2
from object_detection import model_main_tf2
from object_detection.core.errors import ConfigError


def test_original_flags_and_defaults():
  args = model_main_tf2.build_parser().parse_args([
      "--pipeline_config_path=p.config", "--model_dir=m", "--record_summaries=false",
      "--use_tpu", "train_config.batch_size=8", "--noxla", "--override", "train_config.num_steps=3"])
  assert args.eval_timeout == 3600 and args.checkpoint_every_n == 1000
  assert args.num_workers == 1 and args.sample_1_of_n_eval_on_train_examples == 5
  assert args.record_summaries is False and args.use_tpu is True and args.xla is False
  assert args.overrides == ["train_config.batch_size=8"]
  assert args.override == ["train_config.num_steps=3"]
  with pytest.raises(SystemExit):
    model_main_tf2.build_parser().parse_args(["--model_dir=m"])  # pipeline config is required


def test_exporter_rejects_unknown_input_type(tmp_path):
  with pytest.raises(ConfigError, match="--input_type.*image_bytes"):
    exporter_main_v2.main(["--input_type=image_bytes", "--pipeline_config_path=x",
                           "--trained_checkpoint_dir=y", f"--output_directory={tmp_path}"])
  args = exporter_main_v2.build_parser().parse_args([
      "--pipeline_config_path=x", "--trained_checkpoint_dir=y", "--output_directory=z"])
  assert args.input_type == "image_tensor"


def test_non_positive_periods_are_config_errors():
  from object_detection.training import train_loop
  with pytest.raises(ConfigError, match="--checkpoint_every_n: must be positive"):
    train_loop.TrainSettings(checkpoint_every_n=0)


def test_interrupted_training_prints_one_line_and_returns_its_exit_status(monkeypatch, capsys):
  from object_detection import model_lib  # pylint: disable=import-outside-toplevel
  from object_detection.training import interrupts  # pylint: disable=import-outside-toplevel

  def interrupted(*args, **kwargs):
    del args, kwargs
    raise interrupts.TrainingInterrupted("train: stopped by SIGINT at step 8", step=8,
                                         checkpoint="run/ckpt-8", signal_number=2)
  monkeypatch.setattr(model_lib, "run_training", interrupted)
  status = model_main_tf2.main(["--pipeline_config_path=unused.config", "--model_dir=run"])
  assert status == 130
  assert capsys.readouterr().err.strip().endswith("train: stopped by SIGINT at step 8")
