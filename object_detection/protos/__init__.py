"""The pipeline schema, generated from the repository's `protos/*.proto`.

`pip install .` / `pip install -e .` generate the `*_pb2.py` modules (see `setup.py`). In a plain
source checkout (tests run from the repository without installing), missing or stale modules are
generated here on first import, when grpcio-tools is available.
"""

import os as _os


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
  if compiler.is_stale(proto_dir, root):
    try:
      compiler.compile_protos(proto_dir, root)
    except RuntimeError:
      if not _os.path.exists(_os.path.join(here, "pipeline_pb2.py")):
        raise


_ensure_generated()
