"""A seeded fuzzer over pipeline configs: only `ConfigError` (or a clean load) may come out.

    python -m object_detection.config_fuzz --seconds 600 --seed 1 --save_failures /tmp/fuzz
    python -m object_detection.config_fuzz --replay tests/testdata/config_fuzz

Each case starts from a shipped config (configs/tf2/, ../shared/reference_configs/) and applies
1-3 seeded mutations at one of three levels:
- text: delete / duplicate / swap lines, cut the file, flip a brace or a colon, put a special
  token (nan, inf, -1, 0, 1e39, 2**63, "", a long string) in place of a value, rename a field;
- field: walk the parsed message and set a random field (set or unset) to an extreme or random
  value, clear a sub-message or a repeated field, duplicate a repeated entry;
- override: a `field.path=value` override string (the command-line syntax), on a real or a
  misspelled path.
The mutated text is loaded as a user's file would be (parse, overrides, normalise, validate). A
config that loads must then hold only finite floats and pass a cheap subset of the builders
(optimizer + learning rate at a few steps, image resizer, augmentations, losses, NMS), which may
also raise only `ConfigError`. Anything else is a failure: its input is reported (and saved with
--save_failures, to become a file of the regression corpus under tests/testdata/config_fuzz/).
"""

import argparse
import dataclasses
import logging
import math
import os
import pathlib
import random
import sys
import time
import traceback

from google.protobuf import descriptor

from object_detection.config import loader, overrides as overrides_lib, value_checks
from object_detection.core.errors import ConfigError

REPO = pathlib.Path(__file__).resolve().parents[1]
SEED_DIRS = (REPO / "configs" / "tf2", REPO.parent / "shared" / "reference_configs")

_FLOAT = (descriptor.FieldDescriptor.TYPE_FLOAT, descriptor.FieldDescriptor.TYPE_DOUBLE)
_INT = (descriptor.FieldDescriptor.TYPE_INT32, descriptor.FieldDescriptor.TYPE_INT64,
        descriptor.FieldDescriptor.TYPE_UINT32, descriptor.FieldDescriptor.TYPE_UINT64,
        descriptor.FieldDescriptor.TYPE_SINT32, descriptor.FieldDescriptor.TYPE_SINT64,
        descriptor.FieldDescriptor.TYPE_FIXED32, descriptor.FieldDescriptor.TYPE_FIXED64,
        descriptor.FieldDescriptor.TYPE_SFIXED32, descriptor.FieldDescriptor.TYPE_SFIXED64)
_UNSIGNED = (descriptor.FieldDescriptor.TYPE_UINT32, descriptor.FieldDescriptor.TYPE_UINT64,
             descriptor.FieldDescriptor.TYPE_FIXED32, descriptor.FieldDescriptor.TYPE_FIXED64)
_BITS = {descriptor.FieldDescriptor.TYPE_INT32: 31, descriptor.FieldDescriptor.TYPE_SINT32: 31,
         descriptor.FieldDescriptor.TYPE_SFIXED32: 31, descriptor.FieldDescriptor.TYPE_UINT32: 32,
         descriptor.FieldDescriptor.TYPE_FIXED32: 32}

SPECIAL_TOKENS = ("nan", "inf", "-inf", "-1", "0", "1", "-0.5", "1e39", "1e-45", "2", "100000000",
                  "9223372036854775808", "-2147483649", "0.5", "true", "false", '""', '"x"',
                  '"hourglass_1O4"', '"' + "a" * 300 + '"', "[]", "{}", "[nan]", "RGB", "{",
                  "}", "[", ":", "#", "'unterminated")
SPECIAL_FLOATS = (float("nan"), float("inf"), float("-inf"), -1.0, 0.0, 1.0, 0.5, 2.0, -1e-9,
                  1e30, 1e-30, 3.4e38, 255.0)
SPECIAL_INTS = (0, 1, -1, 2, 3, 7, 100, 1 << 20, (1 << 31) - 1, (1 << 32) - 1, -(1 << 31))
SPECIAL_STRINGS = ("", "x", "hourglass_104", "hourglass10", "resnet4", "detection", "full",
                   "fine_tune", "coco_mask_metrics", "PATH_TO_BE_CONFIGURED/x", "/nonexistent/x",
                   "a" * 200, "\x00", "é", "../..")


@dataclasses.dataclass
class Failure:
  """One input that raised something other than ConfigError (or broke an invariant)."""
  source: str
  mutations: list
  text: str
  overrides: list
  error: str
  config_override: str = ""


def seed_configs(dirs=SEED_DIRS):
  """[(name, text)] of the shipped configs (the fuzzer's starting points)."""
  out = []
  for directory in dirs:
    if directory.is_dir():
      out.extend((p.name, p.read_text(encoding="utf-8"))
                 for p in sorted(directory.glob("*.config")))
  if not out:
    raise ConfigError(f"fuzz: no seed configs found (got none in {[str(d) for d in dirs]}; "
                      "expected *.config files)")
  return out


# ------------------------------------------------------------------------------- text level
def _value_spans(line):
  """(start, end) of the value after `name:` on a line, or None."""
  colon = line.find(":")
  if colon < 0:
    return None
  start = colon + 1
  while start < len(line) and line[start] == " ":
    start += 1
  end = len(line)
  for stop in ("#", " {", "}"):
    pos = line.find(stop, start)
    if 0 <= pos < end:
      end = pos
  return (start, end) if end > start else None


def mutate_text(text, rng):
  """One random text-level mutation -> (new text, description)."""
  lines = text.split("\n")
  kind = rng.choice(("delete", "duplicate", "swap", "cut", "token", "token", "token", "brace",
                     "rename", "insert"))
  i = rng.randrange(len(lines))
  if kind == "delete":
    del lines[i]
  elif kind == "duplicate":
    lines.insert(i, lines[i])
  elif kind == "swap":
    j = rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
  elif kind == "cut":
    cut = rng.randrange(len(text) + 1)
    return text[:cut], f"cut at {cut}"
  elif kind == "token":
    candidates = [k for k, l in enumerate(lines) if _value_spans(l)]
    if candidates:
      i = rng.choice(candidates)
      start, end = _value_spans(lines[i])
      token = rng.choice(SPECIAL_TOKENS)
      lines[i] = lines[i][:start] + token + lines[i][end:]
      return "\n".join(lines), f"line {i + 1}: value -> {token}"
  elif kind == "brace":
    candidates = [k for k, l in enumerate(lines) if "{" in l or "}" in l or ":" in l]
    if candidates:
      i = rng.choice(candidates)
      for a, b in (("{", ""), ("}", ""), (":", " "), ("{", "}"), ("}", "{")):
        if a in lines[i] and rng.random() < 0.5:
          lines[i] = lines[i].replace(a, b, 1)
          break
  elif kind == "rename":
    words = lines[i].split()
    if words:
      name = words[0].rstrip(":{")
      if name.isidentifier():
        mangled = name[:-1] if len(name) > 1 and rng.random() < 0.5 else name + "s"
        lines[i] = lines[i].replace(name, mangled, 1)
  elif kind == "insert":
    lines.insert(i, rng.choice(("  num_classes: 0", "  unknown_field: 1", "model { }",
                                "train_config { batch_size: -1 }", "}", "{", "eval_config { }",
                                "  fine_tune_checkpoint_type: \"segmentation\"",
                                "train_input_reader { tf_record_input_reader { } }")))
  return "\n".join(lines), f"line {i + 1}: {kind}"


# ------------------------------------------------------------------------------ field level
def _fields_of(message, path=""):
  """[(message, field descriptor, path)] of every field (set or not) reachable through set
  sub-messages, capped at depth 8."""
  out = []
  stack = [(message, path, 0)]
  while stack:
    msg, prefix, depth = stack.pop()
    for field in msg.DESCRIPTOR.fields:
      sub = f"{prefix}.{field.name}" if prefix else field.name
      out.append((msg, field, sub))
      if field.type != descriptor.FieldDescriptor.TYPE_MESSAGE or depth >= 8:
        continue
      if field.message_type.GetOptions().map_entry:
        continue
      if value_checks._repeated(field):  # pylint: disable=protected-access
        for index, item in enumerate(getattr(msg, field.name)):
          stack.append((item, f"{sub}[{index}]", depth + 1))
      elif msg.HasField(field.name):
        stack.append((getattr(msg, field.name), sub, depth + 1))
  return out


def _random_scalar(field, rng):
  if field.type in _FLOAT:
    return rng.choice(SPECIAL_FLOATS) if rng.random() < 0.7 else rng.uniform(-10, 10)
  if field.type in _INT:
    value = rng.choice(SPECIAL_INTS)
    if field.type in _UNSIGNED:
      value = abs(value)
    bits = _BITS.get(field.type, 63)
    return max(min(value, (1 << bits) - 1), -(1 << bits) if field.type not in _UNSIGNED else 0)
  if field.type == descriptor.FieldDescriptor.TYPE_BOOL:
    return rng.random() < 0.5
  if field.type == descriptor.FieldDescriptor.TYPE_ENUM:
    return rng.choice([v.number for v in field.enum_type.values])
  if field.type in (descriptor.FieldDescriptor.TYPE_STRING, descriptor.FieldDescriptor.TYPE_BYTES):
    value = rng.choice(SPECIAL_STRINGS)
    return value.encode() if field.type == descriptor.FieldDescriptor.TYPE_BYTES else value
  return None


def mutate_fields(pipeline, rng):
  """One random field-level mutation of `pipeline` in place -> description."""
  msg, field, path = rng.choice(_fields_of(pipeline))
  repeated = value_checks._repeated(field)  # pylint: disable=protected-access
  is_message = field.type == descriptor.FieldDescriptor.TYPE_MESSAGE
  if is_message and field.message_type.GetOptions().map_entry:
    msg.ClearField(field.name)
    return f"{path}: cleared map"
  if repeated:
    values = getattr(msg, field.name)
    action = rng.choice(("clear", "append", "duplicate") if values else ("append",))
    if action == "clear":
      msg.ClearField(field.name)
    elif action == "duplicate":
      if is_message:
        values.add().CopyFrom(values[rng.randrange(len(values))])
      else:
        values.append(values[rng.randrange(len(values))])
    elif is_message:
      values.add()
    else:
      values.append(_random_scalar(field, rng))
    return f"{path}: repeated {action}"
  if is_message:
    if msg.HasField(field.name) and rng.random() < 0.5:
      msg.ClearField(field.name)
      return f"{path}: cleared"
    getattr(msg, field.name).SetInParent()
    return f"{path}: set empty"
  value = _random_scalar(field, rng)
  setattr(msg, field.name, value)
  return f"{path} = {value!r}"


# --------------------------------------------------------------------------- override level
def random_override(pipeline, rng):
  """A `path=value` override string on a real (or misspelled) scalar field path."""
  scalars = [(f, p) for _, f, p in _fields_of(pipeline)
             if f.type != descriptor.FieldDescriptor.TYPE_MESSAGE and "[" not in p]
  field, path = rng.choice(scalars)
  if rng.random() < 0.15:
    path = path.replace(".", "..", 1) if rng.random() < 0.5 else path + "x"
  token = rng.choice(SPECIAL_TOKENS + ("1,2,3", "a,b", "", "0x10", "1_000"))
  return f"{path}={token.strip(chr(34)) if rng.random() < 0.5 else token}"


def as_text_override(override):
  """`a.b.c=v` -> the text-format fragment `a { b { c: v } }` (--config_override syntax)."""
  path, value = override.split("=", 1)
  names = path.split(".")
  return " ".join(f"{n} {{" for n in names[:-1]) + f" {names[-1]}: {value} " + "}" * (
      len(names) - 1)


# ------------------------------------------------------------------------------- one case
def _finite_schedule(schedule, path):
  import numpy as np  # pylint: disable=import-outside-toplevel
  for step in (0, 1, 10, 1000, 10 ** 6):
    value = float(np.asarray(schedule(step)))
    if not math.isfinite(value) or value < 0:
      raise AssertionError(f"{path}: learning rate {value} at step {step} (a config that "
                           "loads must give finite, non-negative rates)")


def build_subset(pipeline):
  """Cheap builders on a loaded config; raises ConfigError (fine) or anything else (a bug)."""
  # pylint: disable=import-outside-toplevel
  from object_detection.builders import (dataset_builder, image_resizer_builder,
                                         losses_builder, optimizer_builder,
                                         post_processing_builder, preprocessor_builder)
  model_kind = pipeline.model.WhichOneof("model")
  if model_kind:
    model = getattr(pipeline.model, model_kind)
    if "image_resizer" in model.DESCRIPTOR.fields_by_name and model.HasField("image_resizer"):
      image_resizer_builder.build(model.image_resizer, f"model.{model_kind}.image_resizer")
    if model_kind == "center_net" and model.HasField("object_center_params"):
      losses_builder.build_classification_loss(
          model.object_center_params.classification_loss,
          "model.center_net.object_center_params.classification_loss")
    if model_kind == "faster_rcnn" and model.HasField("second_stage_post_processing"):
      post_processing_builder.build(model.second_stage_post_processing,
                                    "model.faster_rcnn.second_stage_post_processing")
  if pipeline.HasField("train_config"):
    train = pipeline.train_config
    preprocessor_builder.build_all(train.data_augmentation_options)
    if train.optimizer.WhichOneof("optimizer"):
      _, schedule = optimizer_builder.build(train.optimizer)
      _finite_schedule(schedule, "train_config.optimizer")
  if pipeline.HasField("train_input_reader"):
    dataset_builder.check_supported(pipeline.train_input_reader, "train_input_reader")


def run_case(text, overrides=(), source="<fuzz>", build=True, config_override=None):
  """Loads one config text; returns None when it loaded cleanly or raised ConfigError, else the
  formatted error (exception type, message and the innermost frames)."""
  try:
    pipeline = loader.parse_pipeline_text(text, source)
    if config_override:
      overrides_lib.merge_text_override(pipeline, config_override)
    if overrides:
      overrides_lib.apply_overrides(pipeline, list(overrides))
    loader.finalize(pipeline, source=source)
    bad = value_checks.check(pipeline)
    if bad:
      raise AssertionError(f"a loaded config holds non-finite or out-of-range values: {bad}")
    if build:
      build_subset(pipeline)
  except ConfigError:
    return None
  except RecursionError as e:  # a deeply nested text is a user error, but must say so
    return f"RecursionError: {e}"
  except Exception as e:  # pylint: disable=broad-except
    frames = traceback.extract_tb(e.__traceback__)[-3:]
    where = "; ".join(f"{pathlib.Path(f.filename).name}:{f.lineno} {f.name}" for f in frames)
    return f"{type(e).__name__}: {str(e)[:300]} [{where}]"
  return None


@dataclasses.dataclass
class Case:
  """One fuzz input: a config text plus optional overrides, and how it was made."""
  source: str
  text: str
  overrides: list
  config_override: str
  mutations: list


def make_case(seeds, rng):
  """-> Case: a seed config with 1-3 mutations at one level (text, field or override)."""
  name, text = rng.choice(seeds)
  level = rng.choice(("text", "field", "field", "override"))
  case = Case(name, text, [], "", [])
  if level == "text":
    for _ in range(rng.randint(1, 3)):
      case.text, what = mutate_text(case.text, rng)
      case.mutations.append(what)
    return case
  pipeline = loader.parse_pipeline_text(text, name)
  if level == "field":
    for _ in range(rng.randint(1, 3)):
      case.mutations.append(mutate_fields(pipeline, rng))
    from object_detection.config.text_parse import to_text  # pylint: disable=import-outside-toplevel
    case.text = to_text(pipeline)
  elif rng.random() < 0.7:
    case.overrides.append(random_override(pipeline, rng))
    case.mutations.append(f"override {case.overrides[-1]}")
  else:
    case.config_override = as_text_override(random_override(pipeline, rng))
    case.mutations.append(f"config_override {case.config_override}")
  return case


def fuzz(seconds=3.0, seed=0, max_cases=None, build=True, seeds=None):
  """Runs cases until `seconds` (or `max_cases`); returns (number of cases, [Failure])."""
  rng = random.Random(seed)
  seeds = seeds or seed_configs()
  failures, count = [], 0
  deadline = time.monotonic() + seconds
  logger = logging.getLogger("object_detection")
  level = logger.level
  logger.setLevel(logging.ERROR)  # placeholder / deprecation warnings of every case
  try:
    while time.monotonic() < deadline and (max_cases is None or count < max_cases):
      case = make_case(seeds, rng)
      count += 1
      error = run_case(case.text, case.overrides, build=build,
                       config_override=case.config_override)
      if error is not None:
        failures.append(Failure(case.source, case.mutations, case.text, case.overrides, error,
                                case.config_override))
  finally:
    logger.setLevel(level)
  return count, failures


# --------------------------------------------------------------------------- corpus files
CORPUS_HEADER = "# config-fuzz regression case"


def corpus_text(failure):
  """A corpus file: header comments (seed config, mutations, overrides, error), then the text."""
  lines = [CORPUS_HEADER, f"# from: {failure.source}"]
  lines += [f"# mutation: {m}" for m in failure.mutations]
  lines += [f"# override: {o}" for o in failure.overrides]
  if failure.config_override:
    lines.append(f"# config_override: {failure.config_override}")
  lines += [f"# error was: {line}" for line in failure.error.splitlines()[:3]]
  return "\n".join(lines) + "\n" + failure.text


def read_corpus_file(path):
  """-> (text, overrides, config_override) of a corpus file written by `corpus_text`."""
  text = pathlib.Path(path).read_text(encoding="utf-8")
  header = [l for l in text.splitlines() if l.startswith("# ")]
  overrides = [l[len("# override: "):] for l in header if l.startswith("# override: ")]
  fragments = [l[len("# config_override: "):] for l in header
               if l.startswith("# config_override: ")]
  return text, overrides, (fragments[0] if fragments else "")


def replay(directory, build=True):
  """Runs every corpus file of `directory`; returns [(file name, error)] of those that fail."""
  out = []
  for path in sorted(pathlib.Path(directory).glob("*.config")):
    text, overrides, config_override = read_corpus_file(path)
    error = run_case(text, overrides, source=path.name, build=build,
                     config_override=config_override)
    if error is not None:
      out.append((path.name, error))
  return out


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m object_detection.config_fuzz",
                              description=__doc__.split("\n")[0])
  p.add_argument("--seconds", type=float, default=60.0)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--no_build", action="store_true", help="load and validate only")
  p.add_argument("--save_failures", default=None, help="write each failing input here")
  p.add_argument("--replay", default=None, help="run the corpus files of this folder instead")
  args = p.parse_args(argv)
  if args.replay:
    bad = replay(args.replay, build=not args.no_build)
    for name, error in bad:
      print(f"{name}: {error}")
    print(f"replayed {args.replay}: {len(bad)} failing")
    return 1 if bad else 0
  count, failures = fuzz(args.seconds, args.seed, build=not args.no_build)
  for index, failure in enumerate(failures):
    print(f"[{index}] {failure.source} {failure.mutations} {failure.overrides}\n"
          f"    {failure.error}")
    if args.save_failures:
      os.makedirs(args.save_failures, exist_ok=True)
      with open(os.path.join(args.save_failures, f"seed{args.seed}_{index:04d}.config"), "w",
                encoding="utf-8") as f:
        f.write(corpus_text(failure))
  print(f"{count} cases in {args.seconds:g} s (seed {args.seed}): {len(failures)} failures")
  return 1 if failures else 0


if __name__ == "__main__":
  sys.exit(main())
