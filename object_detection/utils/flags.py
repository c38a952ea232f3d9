"""Command-line flags of every entry point: argparse, spelled the way the original's absl flags are.

Users bring command lines written for the original (absl.flags): `--alsologtostderr`, `--v=1`,
`--nouse_tpu`, `--model_dir /path`, `-model_dir=/path`, `--flagfile=FILE`. `FlagParser` accepts
all of them on top of `argparse.ArgumentParser`:

  --name=value, --name value            every flag (argparse)
  -name=value                           absl's single-dash long form
  --bool, --nobool, --bool=false        boolean flags added with `add_bool`; `--bool false`
                                        (space) takes a following true/false word as the value
                                        instead of leaving it as a stray argument
  --flagfile=FILE                       one flag per line, `#` or `//` comments (absl)
  --logtostderr, --alsologtostderr,     absl's logging flags: accepted; logs already go to
  --stderrthreshold=L, --log_dir=D        stderr (as the original's Python logging does)
  --v=N, --verbosity=N, -v N            0 info (default), 1 debug (and TensorFlow's C++ logs
                                        back on), -1 warnings only

Abbreviations are refused (`allow_abbrev=False`: `--num_train_step=5` is an error, not
`--num_train_steps`). Flags the original had but this package replaced are refused with a message
naming the replacement (`refuse`).

Why argparse and not absl.flags (which TensorFlow installs): absl keeps one process-wide FLAGS
registry, so two entry points defining `--pipeline_config_path` cannot be imported together (tests,
`python -m`, a notebook), a registry parses once per process, and there are no positional
arguments (our trailing `KEY=VALUE` config overrides). argparse gives a parser per tool,
`main(argv)` that tests call directly, and usage errors that exit with status 2.
"""

import argparse
import sys

TRUE_WORDS = ("1", "true", "t", "yes", "y")
FALSE_WORDS = ("0", "false", "f", "no", "n")

MAX_FLAGFILES = 64  # a flag file may name others; this stops a file that names itself
# absl's logging flags that change nothing here: logs always go to stderr.
_NOOP_LOGGING_FLAGS = ("logtostderr", "alsologtostderr")


def parse_bool(text):
  """'true'/'false' (and absl's 1/0/t/f, yes/no) -> bool; argparse type function."""
  if isinstance(text, bool):
    return text
  value = str(text).strip().lower()
  if value in TRUE_WORDS:
    return True
  if value in FALSE_WORDS:
    return False
  raise argparse.ArgumentTypeError(f"expected true or false (got {text!r})")


def positive_int(text):
  """An integer >= 1; argparse type function."""
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected an integer >= 1 (got {text!r})") from None
  if value < 1:
    raise argparse.ArgumentTypeError(f"expected an integer >= 1 (got {text!r})")
  return value


def read_flagfile(path):
  """Flags of an absl flagfile: one per line; blank lines and `#` / `//` comments skipped."""
  try:
    with open(path, encoding="utf-8") as f:
      lines = f.read().splitlines()
  except OSError as e:
    raise argparse.ArgumentTypeError(f"--flagfile: cannot read {path!r} ({e.strerror})") from None
  out = []
  for line in lines:
    line = line.strip()
    if line and not line.startswith(("#", "//")):
      out.append(line)
  return out


class FlagParser(argparse.ArgumentParser):
  """`argparse.ArgumentParser` with absl spellings, the logging flags and no abbreviations.

  Usage:
    p = FlagParser(prog="model_main_tf2", description="...")
    p.add_argument("--model_dir", required=True)
    p.add_bool("use_tpu", default=False, help="...")
    p.refuse("hparams_overrides", "use --config_override='...' instead")
    args = p.parse_args(argv)        # args.verbosity is always there
  """

  def __init__(self, *args, **kwargs):
    kwargs["allow_abbrev"] = False
    super().__init__(*args, **kwargs)
    self._bool_flags = set()
    self._refused = {}
    self._logging_flags_added = False

  def _add_logging_flags(self):
    """Added last (at the first parse or help), so that usage lists the tool's flags first."""
    if self._logging_flags_added:
      return
    self._logging_flags_added = True
    group = self.add_argument_group("logging (the original's absl flags)")
    group.add_argument("-v", "--verbosity", "--v", type=int, default=0, metavar="N",
                       help="0 info (default), 1 debug and TensorFlow's C++ logs, -1 warnings")
    for name in _NOOP_LOGGING_FLAGS:
      self._bool_flags.add(name)
      group.add_argument(f"--{name}", type=parse_bool, default=False, metavar="true|false",
                         help="accepted for absl compatibility; logs always go to stderr")
    group.add_argument("--stderrthreshold", default=None, metavar="LEVEL",
                       help="accepted for absl compatibility (no effect)")
    group.add_argument("--log_dir", default=None, metavar="DIR",
                       help="accepted for absl compatibility (no effect: logs go to stderr)")
    group.add_argument("--helpfull", "--helpshort", action="help", help=argparse.SUPPRESS)

  def add_bool(self, name, default=False, help=None):  # pylint: disable=redefined-builtin
    """Adds `--name[=true|false]`, also spelled `--noname` and `--name false`."""
    self._bool_flags.add(name)
    return self.add_argument(f"--{name}", type=parse_bool, default=default,
                             metavar="true|false", help=help)

  def refuse(self, name, replacement):
    """`--name` (the original's flag) exits with status 2 and `replacement` in the message."""
    self._refused[name] = replacement

  def format_usage(self):
    self._add_logging_flags()
    return super().format_usage()

  def format_help(self):
    self._add_logging_flags()
    return super().format_help()

  def parse_known_args(self, args=None, namespace=None):
    self._add_logging_flags()
    argv = sys.argv[1:] if args is None else list(args)
    return super().parse_known_args(self.absl_to_argparse(argv), namespace)

  def absl_to_argparse(self, argv):
    """Rewrites the absl spellings of `argv` into argparse ones (see the module doc)."""
    out, i, flagfiles = [], 0, 0
    argv = list(argv)
    while i < len(argv):
      arg = argv[i]
      i += 1
      if arg == "--":  # everything after is positional, untouched
        out.extend(argv[i - 1:])
        break
      arg = self._double_dash(arg)
      if not arg.startswith("--"):
        out.append(arg)
        continue
      name, has_value, value = arg[2:].partition("=")
      if name == "flagfile":
        flagfiles += 1
        if flagfiles > MAX_FLAGFILES:
          self.error(f"--flagfile: more than {MAX_FLAGFILES} flag files (got a flag file that "
                     "includes itself?)")
        if not has_value:
          if i >= len(argv):
            self.error("argument --flagfile: expected a file name")
          value, i = argv[i], i + 1
        try:
          argv[i:i] = read_flagfile(value)
        except argparse.ArgumentTypeError as e:
          self.error(str(e))
        continue
      flag = name[2:] if name.startswith("no") and name[2:] in self._bool_flags else None
      if name in self._refused or flag in self._refused:
        refused = name if name in self._refused else flag
        self.error(f"--{refused} is a flag of the original that this package does not have: "
                   f"{self._refused[refused]}")
      if name in self._bool_flags and not has_value:
        if i < len(argv) and argv[i].strip().lower() in TRUE_WORDS + FALSE_WORDS:
          value, i = argv[i], i + 1  # `--use_tpu true`: the word is the flag's value
        else:
          value = "true"
        arg = f"--{name}={value}"
      elif flag is not None and f"--{name}" not in self._option_string_actions:
        if has_value:
          self.error(f"argument --{name}: a --no<flag> takes no value (got {arg!r}; expected "
                     f"--{name} or --{flag}={value})")
        arg = f"--{flag}=false"
      out.append(arg)
    return out

  def _double_dash(self, arg):
    """absl's `-model_dir=x` -> `--model_dir=x` (only for long flags this parser has)."""
    if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
      name = arg[1:].partition("=")[0]
      known = f"--{name}" in self._option_string_actions or name in self._bool_flags or (
          name.startswith("no") and name[2:] in self._bool_flags) or name in self._refused or (
              name == "flagfile")
      if known:
        return "-" + arg
    return arg
