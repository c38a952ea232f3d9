"""Train or evaluate a model from a pipeline config (the original's model_main_tf2.py).

Train:
  python model_main_tf2.py --pipeline_config_path=PATH --model_dir=DIR [--num_train_steps=N]
      [--checkpoint_every_n=1000] [--num_workers=1] [--use_tpu --tpu_name=NAME] [--xla]
      [--config_override='train_config { batch_size: 8 }'] [train_config.batch_size=8 ...]
Evaluate (the --checkpoint_dir flag switches to eval mode, as the original):
  python model_main_tf2.py --pipeline_config_path=PATH --model_dir=DIR --checkpoint_dir=DIR
      [--eval_timeout=3600] [--sample_1_of_n_eval_examples=1]
  Every new checkpoint is evaluated until the training's last step or --eval_timeout seconds
  without a new one; --eval_timeout=0 evaluates the latest checkpoint once.

Trailing `field.path=value` arguments (or --override, repeatable) change the config
(object_detection.config.overrides syntax); --config_override merges a text-format fragment.
"""

import argparse
import sys

from object_detection.core.errors import ConfigError
from object_detection.utils import cli


def _bool(text):
  if isinstance(text, bool):
    return text
  value = str(text).lower()
  if value in ("1", "true", "yes", "y", "t"):
    return True
  if value in ("0", "false", "no", "n", "f"):
    return False
  raise argparse.ArgumentTypeError(f"expected true or false (got {text!r})")


BOOL_FLAGS = ("eval_on_train_data", "use_tpu", "record_summaries", "xla")


def normalize_bool_flags(argv):
  """absl spellings of boolean flags: `--use_tpu` -> true, `--nouse_tpu` -> false."""
  out = []
  for arg in argv:
    name = arg[2:] if arg.startswith("--") and "=" not in arg else None
    if name in BOOL_FLAGS:
      arg = f"--{name}=true"
    elif name and name.startswith("no") and name[2:] in BOOL_FLAGS:
      arg = f"--{name[2:]}=false"
    out.append(arg)
  return out


class _Parser(argparse.ArgumentParser):
  def parse_args(self, args=None, namespace=None):
    return super().parse_args(normalize_bool_flags(sys.argv[1:] if args is None else args),
                              namespace)


def build_parser():
  p = _Parser(prog="model_main_tf2", description=__doc__.split("\n")[0])
  p.add_argument("--pipeline_config_path", required=True, help="Path to pipeline config file.")
  p.add_argument("--model_dir", required=True, help="Where checkpoints and summaries go.")
  p.add_argument("--num_train_steps", type=int, default=None,
                 help="Number of train steps (default: train_config.num_steps).")
  p.add_argument("--eval_on_train_data", type=_bool, default=False,
                 help="Evaluate on the train input instead of the eval input (eval mode).")
  p.add_argument("--sample_1_of_n_eval_examples", type=int, default=None,
                 help="Evaluate one of every n examples.")
  p.add_argument("--sample_1_of_n_eval_on_train_examples", type=int, default=5,
                 help="With --eval_on_train_data: one of every n train examples.")
  p.add_argument("--checkpoint_dir", default=None,
                 help="Set: evaluation mode on the checkpoints written to this directory.")
  p.add_argument("--eval_timeout", type=int, default=3600,
                 help="Seconds to wait for a new checkpoint before eval exits.")
  p.add_argument("--use_tpu", type=_bool, default=False)
  p.add_argument("--tpu_name", default=None)
  p.add_argument("--num_workers", type=int, default=1,
                 help=">1: MultiWorkerMirroredStrategy (cluster from TF_CONFIG).")
  p.add_argument("--checkpoint_every_n", type=int, default=1000)
  p.add_argument("--record_summaries", type=_bool, default=True)
  p.add_argument("--xla", type=_bool, default=False,
                 help="Compile the training step with XLA (jit_compile).")
  p.add_argument("--config_override", default=None, help="Text-format pipeline fragment.")
  p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE")
  p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                 help="Config overrides, e.g. train_config.batch_size=8.")
  return p


def main(argv=None):
  args = build_parser().parse_args(argv)
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
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
        eval_on_train_data=args.eval_on_train_data)
    for step, metrics in results:
      print(f"eval at step {step}:")
      for k in sorted(metrics):
        print(f"  {k}: {metrics[k]:.4f}")
    return 0
  strategy = distribution.get_strategy(args.use_tpu, args.tpu_name, args.num_workers)
  model_lib.run_training(
      args.pipeline_config_path, args.model_dir, config_override=args.config_override,
      overrides=overrides, num_train_steps=args.num_train_steps,
      checkpoint_every_n=args.checkpoint_every_n, record_summaries=args.record_summaries,
      strategy=strategy, xla=args.xla)
  return 0


def run():
  """Console entry point (deepmac-train)."""
  cli.run_main(main)


if __name__ == "__main__":
  run()
