"""utils/flags.py: the original's absl command lines parse unchanged, abbreviations and replaced
flags are refused with a message, every entry point uses the shared parser."""

import logging

import pytest

from object_detection import convert_checkpoint
from object_detection import demo
from object_detection import exporter_main_v2
from object_detection import inference
from object_detection import model_main_tf2
from object_detection.dataset_tools import create_coco_tf_record
from object_detection.dataset_tools import create_pascal_tf_record
from object_detection.export import formats
from object_detection.utils import cli
from object_detection.utils import flags

# model_main_tf2.py's docstring in the original (train, then eval), values substituted.
TRAIN_DOC = ("--model_dir=/m --num_train_steps=5 --sample_1_of_n_eval_examples=1 "
             "--pipeline_config_path=/p.config --alsologtostderr").split()
EVAL_DOC = ("--model_dir=/m --pipeline_config_path=/p.config --checkpoint_dir=/m "
            "--alsologtostderr").split()


def _parse(argv):
  return model_main_tf2.build_parser().parse_args(argv)


def _refused(parser, argv, capsys):
  with pytest.raises(SystemExit) as info:
    parser.parse_args(argv)
  assert info.value.code == 2
  return capsys.readouterr().err


def test_the_originals_documented_command_lines():
  args = _parse(TRAIN_DOC)
  assert (args.model_dir, args.num_train_steps, args.sample_1_of_n_eval_examples) == ("/m", 5, 1)
  assert args.pipeline_config_path == "/p.config" and args.alsologtostderr is True
  assert args.checkpoint_dir is None and args.overrides == []
  args = _parse(EVAL_DOC)
  assert args.checkpoint_dir == "/m" and args.alsologtostderr is True


def test_absl_spellings():
  args = _parse(["--model_dir", "/m", "-pipeline_config_path=/p", "--logtostderr", "--v=1",
                 "--nouse_tpu", "--norecord_summaries", "--xla=True", "--eval_on_train_data=0",
                 "--stderrthreshold=info", "--log_dir=/tmp"])
  assert args.model_dir == "/m" and args.pipeline_config_path == "/p"
  assert args.logtostderr is True and args.verbosity == 1
  assert args.use_tpu is False and args.record_summaries is False and args.xla is True
  assert args.eval_on_train_data is False
  assert _parse(TRAIN_DOC + ["-v", "-1"]).verbosity == -1
  assert _parse(TRAIN_DOC + ["--v", "1"]).verbosity == 1
  assert _parse(TRAIN_DOC + ["--verbosity=2"]).verbosity == 2


def test_a_bool_flag_takes_a_following_true_false_word():
  args = _parse(TRAIN_DOC + ["--use_tpu", "true", "train_config.batch_size=8"])
  assert args.use_tpu is True and args.overrides == ["train_config.batch_size=8"]
  args = _parse(TRAIN_DOC + ["--use_tpu", "False"])
  assert args.use_tpu is False and args.overrides == []
  args = _parse(TRAIN_DOC + ["--use_tpu", "train_config.batch_size=8"])  # no value word
  assert args.use_tpu is True and args.overrides == ["train_config.batch_size=8"]


def test_abbreviations_are_refused(capsys):
  err = _refused(model_main_tf2.build_parser(), TRAIN_DOC + ["--num_train_step=5"], capsys)
  assert "unrecognized arguments: --num_train_step=5" in err
  err = _refused(model_main_tf2.build_parser(), TRAIN_DOC + ["--model=x"], capsys)
  assert "--model=x" in err


def test_hparams_overrides_names_its_replacement(capsys):
  for argv in (["--hparams_overrides=load_pretrained=false"], ["--hparams_overrides", "x=1"]):
    err = _refused(model_main_tf2.build_parser(), TRAIN_DOC + argv, capsys)
    assert "--hparams_overrides" in err and "--config_override" in err and "KEY=VALUE" in err


def test_bad_bool_values(capsys):
  err = _refused(model_main_tf2.build_parser(), TRAIN_DOC + ["--use_tpu=maybe"], capsys)
  assert "--use_tpu: expected true or false (got 'maybe')" in err
  err = _refused(model_main_tf2.build_parser(), TRAIN_DOC + ["--nouse_tpu=1"], capsys)
  assert "takes no value" in err


def test_flagfile(tmp_path, capsys):
  flagfile = tmp_path / "train.flags"
  flagfile.write_text("# the original's flagfile\n--model_dir=/m\n\n// comment\n"
                      "--pipeline_config_path=/p\n--nouse_tpu\n--num_train_steps=7\n")
  args = _parse([f"--flagfile={flagfile}", "--num_train_steps=9"])
  assert (args.model_dir, args.use_tpu, args.num_train_steps) == ("/m", False, 9)  # later wins
  err = _refused(model_main_tf2.build_parser(), [f"--flagfile={tmp_path}/missing"], capsys)
  assert "--flagfile: cannot read" in err
  loop = tmp_path / "loop.flags"
  loop.write_text(f"--flagfile={loop}\n")
  err = _refused(model_main_tf2.build_parser(), [f"--flagfile={loop}"], capsys)
  assert "more than 64 flag files" in err


def test_double_dash_ends_the_flags():
  parser = flags.FlagParser(prog="t")
  parser.add_argument("rest", nargs="*")
  assert parser.parse_args(["--", "--v=1", "-x"]).rest == ["--v=1", "-x"]


def test_every_entry_point_uses_the_shared_parser(capsys):
  parsers = [model_main_tf2.build_parser(), exporter_main_v2.build_parser(),
             inference.build_parser(), create_coco_tf_record.build_parser(),
             create_pascal_tf_record.build_parser(), convert_checkpoint.build_parser(),
             formats.build_parser(), demo.build_parser()]
  for parser in parsers:
    assert isinstance(parser, flags.FlagParser) and parser.allow_abbrev is False
    assert "--alsologtostderr" in parser.format_help()
  args = exporter_main_v2.build_parser().parse_args([
      "--input_type", "image_tensor", "--pipeline_config_path", "p", "--trained_checkpoint_dir",
      "c", "--output_directory", "o", "--alsologtostderr", "--nouse_side_inputs"])
  assert args.use_side_inputs is False
  args = convert_checkpoint.build_parser().parse_args([
      "--pipeline_config_path", "p", "--original_checkpoint=c", "--output_dir", "o",
      "--allow_partial", "--logtostderr", "model.center_net.num_classes=3"])
  assert args.allow_partial is True and args.overrides == ["model.center_net.num_classes=3"]
  args = create_coco_tf_record.build_parser().parse_args([
      "--output_dir=o", "--include_masks", "--nostrict", "--write_label_map", "false"])
  assert (args.include_masks, args.strict, args.write_label_map) == (True, False, False)
  err = _refused(create_coco_tf_record.build_parser(),
                 ["--output_dir=o", "--train_keypoint_annotations_file=k.json"], capsys)
  assert "keypoint" in err and "not implemented" in err
  assert demo.build_parser().parse_args(["--use_bfloat16", "--steps", "3"]).use_bfloat16 is True
  args = create_pascal_tf_record.build_parser().parse_args(["--ignore_difficult_instances",
                                                            "--norequire_masks"])
  assert args.ignore_difficult_instances is True and args.require_masks is False


def test_python_log_levels():
  assert [cli.python_log_level(v) for v in (2, 1, 0, -1, -2, -3)] == [
      logging.DEBUG, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.FATAL]


EXPORT_DOC = ["--input_type", "image_tensor", "--pipeline_config_path", "p",
              "--trained_checkpoint_dir", "c", "--output_directory", "o"]


def test_exporter_deployment_flags():
  parser = exporter_main_v2.build_parser()
  args = parser.parse_args(EXPORT_DOC)
  assert (args.output_format, args.tflite_quantization, args.use_bfloat16) == (
      "saved_model", "none", False)
  args = parser.parse_args(EXPORT_DOC + ["--output_format", "saved_model,tflite",
                                         "--tflite_quantization=float16,dynamic_range",
                                         "--use_bfloat16", "true", "x.y=1"])
  assert (args.output_format, args.tflite_quantization) == ("saved_model,tflite",
                                                            "float16,dynamic_range")
  assert args.use_bfloat16 is True and args.overrides == ["x.y=1"]
  assert parser.parse_args(EXPORT_DOC + ["--use_bfloat16"]).use_bfloat16 is True
  assert parser.parse_args(EXPORT_DOC + ["--nouse_bfloat16"]).use_bfloat16 is False
  assert parser.parse_args(EXPORT_DOC + ["-use_bfloat16=false"]).use_bfloat16 is False


def test_exporter_refuses_abbreviations(capsys):
  for flag in ("--output_form=tflite", "--tflite_quant=float16", "--use_bfloat=true"):
    err = _refused(exporter_main_v2.build_parser(), EXPORT_DOC + [flag], capsys)
    assert f"unrecognized arguments: {flag}" in err
