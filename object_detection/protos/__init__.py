"""The pipeline schema, generated from the repository's `protos/*.proto`.

`pip install .` / `pip install -e .` generate the `*_pb2.py` modules (see `setup.py`). In a plain
source checkout (tests run from the repository without installing), missing or stale modules are
generated here on first import, when grpcio-tools is available. protoc runs in a subprocess:
running it inside a process that has already loaded TensorFlow crashes (both bundle protobuf).
"""

import os as _os
import subprocess as _subprocess
import sys as _sys


def _ensure_generated():
  here = _os.path.dirname(_os.path.abspath(__file__))
  root = _os.path.dirname(_os.path.dirname(here))
  proto_dir = _os.path.join(root, "protos")
  if not _os.path.isdir(proto_dir):  # an installed wheel: modules were generated at build time
    return
  import importlib.util  # pylint: disable=import-outside-toplevel
  spec = importlib.util.spec_from_file_location(
      "_od_proto_compile", _os.path.join(here, "_compile.py"))
  compiler = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(compiler)
  if not compiler.is_stale(proto_dir, root):
    return
  result = _subprocess.run(
      [_sys.executable, _os.path.join(here, "_compile.py"), proto_dir, root],
      capture_output=True, text=True, check=False)
  if result.returncode != 0 and not _os.path.exists(_os.path.join(here, "pipeline_pb2.py")):
    raise ImportError(
        f"could not compile the .proto schema in {proto_dir} (install grpcio-tools, or "
        f"`pip install -e .`):\n{result.stdout}{result.stderr}")


_ensure_generated()
