"""Train or evaluate a model from a pipeline config (the original's model_main_tf2.py).

Train:
  python model_main_tf2.py --pipeline_config_path=PATH --model_dir=DIR [--seed=1]
      [--num_train_steps=N] [--checkpoint_every_n=1000] [--num_workers=1]
      [--use_tpu --tpu_name=NAME] [--xla]
      [--config_override='train_config { batch_size: 8 }'] [train_config.batch_size=8 ...]
  Run the same command again to resume from the latest checkpoint in --model_dir: it continues
  exactly (same seed, input position and random state). Ctrl-C (or SIGTERM) stops after the
  current step and saves a checkpoint of it (exit status 130 / 143); a second Ctrl-C quits at once.
Evaluate (the --checkpoint_dir flag switches to eval mode, as the original):
  python model_main_tf2.py --pipeline_config_path=PATH --model_dir=DIR --checkpoint_dir=DIR
      [--eval_timeout=3600] [--sample_1_of_n_eval_examples=1]
  Every new checkpoint is evaluated until the training's last step or --eval_timeout seconds
  without a new one; --eval_timeout=0 evaluates the latest checkpoint once.
  --keep_best_metric=DetectionMasks_Precision/mAP keeps a copy of the best checkpoint by that
  metrics.json key in MODEL_DIR/best (export it with --trained_checkpoint_dir=MODEL_DIR/best).

Trailing `field.path=value` arguments (or --override, repeatable) change the config
(object_detection.config.overrides syntax); --config_override merges a text-format fragment.
The original's absl spellings work (`--alsologtostderr`, `--v=1`, `--nouse_tpu`,
`--model_dir DIR`, `--flagfile=FILE`; utils/flags.py); abbreviations do not.
"""

import sys

from object_detection.core.errors import ConfigError
from object_detection.utils import cli
from object_detection.utils import flags

# The TF1 model_main.py's flag; its hparams were config values, which these now change.
HPARAMS_REPLACEMENT = ("use --config_override='<text-format pipeline fragment>' or trailing "
                       "KEY=VALUE overrides (e.g. train_config.batch_size=8) instead")


def build_parser():
  p = flags.FlagParser(prog="model_main_tf2", description=__doc__.split("\n")[0])
  p.add_argument("--pipeline_config_path", required=True, help="Path to pipeline config file.")
  p.add_argument("--model_dir", required=True, help="Where checkpoints and summaries go.")
  p.add_argument("--num_train_steps", type=int, default=None,
                 help="Number of train steps (default: train_config.num_steps).")
  p.add_bool("eval_on_train_data", default=False,
             help="Evaluate on the train input instead of the eval input (eval mode).")
  p.add_argument("--sample_1_of_n_eval_examples", type=int, default=None,
                 help="Evaluate one of every n examples.")
  p.add_argument("--sample_1_of_n_eval_on_train_examples", type=int, default=5,
                 help="With --eval_on_train_data: one of every n train examples.")
  p.add_argument("--checkpoint_dir", default=None,
                 help="Set: evaluation mode on the checkpoints written to this directory.")
  p.add_argument("--eval_timeout", type=int, default=3600,
                 help="Seconds to wait for a new checkpoint before eval exits.")
  p.add_argument("--keep_best_metric", default=None, metavar="KEY",
                 help="Eval mode: copy the best checkpoint by this metrics.json key (e.g. "
                      "DetectionMasks_Precision/mAP) to MODEL_DIR/best, which exporter_main_v2 "
                      "--trained_checkpoint_dir accepts.")
  p.add_argument("--keep_best_mode", default="auto", choices=("auto", "max", "min"),
                 help="max: higher is better; min: lower; auto: min for losses, else max.")
  p.add_bool("use_tpu", default=False)
  p.add_argument("--tpu_name", default=None)
  p.add_argument("--num_workers", type=int, default=1,
                 help=">1: MultiWorkerMirroredStrategy (cluster from TF_CONFIG).")
  p.add_argument("--checkpoint_every_n", type=int, default=1000)
  p.add_argument("--seed", type=int, default=None,
                 help="Seed of the run (weights, input order, augmentations). Default: the "
                      "resumed run's seed, or a random one that is printed and saved.")
  p.add_bool("record_summaries", default=True)
  p.add_bool("xla", default=False, help="Compile the training step with XLA (jit_compile).")
  p.add_argument("--config_override", default=None, help="Text-format pipeline fragment.")
  p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE")
  p.refuse("hparams_overrides", HPARAMS_REPLACEMENT)
  p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                 help="Config overrides, e.g. train_config.batch_size=8.")
  return p


def main(argv=None):
  args = build_parser().parse_args(argv)
  if args.keep_best_metric and not args.checkpoint_dir:
    raise ConfigError("--keep_best_metric: only in eval mode (got it without --checkpoint_dir; "
                      "expected --checkpoint_dir=DIR as well)")
  tf = cli.start(args)
  from object_detection.training import distribution  # pylint: disable=import-outside-toplevel
  from object_detection import model_lib  # pylint: disable=import-outside-toplevel
  tf.config.set_soft_device_placement(True)
  overrides = list(args.override) + list(args.overrides)
  if args.checkpoint_dir:
    results = model_lib.run_evaluation(
        args.pipeline_config_path, args.model_dir, args.checkpoint_dir,
        config_override=args.config_override, overrides=overrides,
        sample_1_of_n_eval_examples=(args.sample_1_of_n_eval_on_train_examples
                                     if args.eval_on_train_data
                                     else args.sample_1_of_n_eval_examples),
        eval_timeout=args.eval_timeout, num_train_steps=args.num_train_steps,
        once=args.eval_timeout == 0, record_summaries=args.record_summaries,
        eval_on_train_data=args.eval_on_train_data, keep_best_metric=args.keep_best_metric,
        keep_best_mode=args.keep_best_mode)
    for step, metrics in results:
      print(f"eval at step {step}:")
      for k in sorted(metrics):
        print(f"  {k}: {metrics[k]:.4f}")
    return 0
  from object_detection.training import interrupts  # pylint: disable=import-outside-toplevel
  strategy = distribution.get_strategy(args.use_tpu, args.tpu_name, args.num_workers)
  try:
    model_lib.run_training(
        args.pipeline_config_path, args.model_dir, config_override=args.config_override,
        overrides=overrides, num_train_steps=args.num_train_steps,
        checkpoint_every_n=args.checkpoint_every_n, record_summaries=args.record_summaries,
        strategy=strategy, xla=args.xla, seed=args.seed)
  except interrupts.TrainingInterrupted as e:
    print(str(e), file=sys.stderr)
    return e.exit_status
  return 0


def run():
  """Console entry point (deepmac-train)."""
  cli.run_main(main)


if __name__ == "__main__":
  run()
