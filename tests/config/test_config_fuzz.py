"""The seeded config fuzzer in CI (bounded: a fixed number of cases), and its regression corpus.

Only `ConfigError` or a clean load may come out of any mutated config (issue #15: 29,000 mutated
configs raised only ConfigError, but NaN / infinite numbers loaded silently). Long runs:
`python -m object_detection.config_fuzz --seconds 600 --seed N --save_failures DIR`.
"""

import os
import pathlib

import pytest

from object_detection import config_fuzz as fuzz
from object_detection.config import loader, overrides as overrides_lib
from object_detection.core.errors import ConfigError

CORPUS = pathlib.Path(__file__).resolve().parents[1] / "testdata" / "config_fuzz"
CASES = int(os.environ.get("DEEPMAC_CONFIG_FUZZ_CASES", "200"))


def test_fuzzed_configs_raise_only_config_errors():
  count, failures = fuzz.fuzz(seconds=float("inf"), seed=15, max_cases=CASES)
  assert count == CASES
  assert not failures, "\n".join(f"{f.source} {f.mutations} {f.overrides}: {f.error}"
                                 for f in failures[:5])


def test_regression_corpus_is_refused_with_the_field_path():
  files = sorted(CORPUS.glob("*.config"))
  assert len(files) >= 5
  assert fuzz.replay(CORPUS) == []
  for path in files:
    text, overrides, config_override = fuzz.read_corpus_file(path)
    pipeline = loader.parse_pipeline_text(text, path.name)
    if config_override:
      overrides_lib.merge_text_override(pipeline, config_override)
    with pytest.raises(ConfigError, match=r"(not a finite number|out of range)"):
      if overrides:
        overrides_lib.apply_overrides(pipeline, list(overrides))
      loader.finalize(pipeline, source=path.name)


def test_a_failure_becomes_a_corpus_file_that_replays(tmp_path):
  text = (CORPUS / "issue15_nan_channel_means.config").read_text()
  failure = fuzz.Failure("x.config", ["text: m"], text, ["a.b=1"], "TypeError: boom", "")
  (tmp_path / "case.config").write_text(fuzz.corpus_text(failure))
  replayed, overrides, _ = fuzz.read_corpus_file(tmp_path / "case.config")
  assert overrides == ["a.b=1"] and "# error was: TypeError: boom" in replayed
