"""The generated *_pb2 modules match the .proto sources in protos/.

Recompiles every source into a temp dir with object_detection/protos/_compile.py and compares the
serialized FileDescriptorProto embedded in each freshly generated module with the one embedded in
the imported module's file (the fresh files are read, not imported, so the two never meet in one
descriptor pool). The runtime's `DESCRIPTOR.serialized_pb` is not used: upb re-serializes it
(float defaults such as 0.9 come back as "0.899999976"), so it never equals protoc's bytes.
"""

import ast
import importlib
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "protos"
COMPILER = REPO / "object_detection" / "protos" / "_compile.py"
SOURCES = sorted(p.stem for p in PROTO_DIR.glob("*.proto"))


def _serialized_descriptor(generated_file):
  """The bytes passed to AddSerializedFile(...) in a generated _pb2.py file."""
  tree = ast.parse(generated_file.read_text())
  for node in ast.walk(tree):
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr == "AddSerializedFile"):
      return ast.literal_eval(node.args[0])
  raise AssertionError(f"no AddSerializedFile call in {generated_file}")


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory):
  out = tmp_path_factory.mktemp("protos_build")
  # A child process: protoc (grpc_tools) in a process that already loaded TensorFlow segfaults.
  result = subprocess.run([sys.executable, str(COMPILER), str(PROTO_DIR), str(out)],
                          capture_output=True, text=True, check=False, timeout=300)
  assert result.returncode == 0, result.stderr
  return out / "object_detection" / "protos"


def test_schema_has_the_pipeline_files():
  for name in ("pipeline", "model", "center_net", "train", "eval", "input_reader", "optimizer",
               "image_resizer", "losses", "string_int_label_map", "preprocessor",
               "graph_rewriter"):
    assert name in SOURCES, name


@pytest.mark.parametrize("name", SOURCES)
def test_generated_module_matches_source(name, fresh_build):
  imported = importlib.import_module(f"object_detection.protos.{name}_pb2")
  expected = _serialized_descriptor(fresh_build / f"{name}_pb2.py")
  assert _serialized_descriptor(pathlib.Path(imported.__file__)) == expected, (
      f"object_detection/protos/{name}_pb2.py is stale: regenerate with "
      "`python object_detection/protos/_compile.py`")
  assert pathlib.Path(imported.__file__).parent == REPO / "object_detection" / "protos"
  assert imported.DESCRIPTOR.name == f"object_detection/protos/{name}.proto"
  assert imported.DESCRIPTOR.package == "object_detection.protos"
