"""Compiles the pipeline schema (`protos/*.proto`) to Python modules.

The `.proto` sources live in the repository's top-level `protos/` folder, but they import each
other as `object_detection/protos/<name>.proto` (the original Object Detection API's paths, so
generated descriptors keep the original's file names and users' own protos that import ours
still resolve). `protoc` is therefore given the virtual mapping
`object_detection/protos=<protos dir>`.

This file is run by `setup.py` at build time (no manual `protoc` step) and, as a fallback for a
plain source checkout, by `object_detection/protos/__init__.py` when a `_pb2` module is missing or
older than its `.proto`. It imports nothing from the package, so the build can load it by path.
"""

import glob
import os
import sys

VIRTUAL_DIR = "object_detection/protos"


def proto_sources(proto_dir):
  """Sorted list of `.proto` files in `proto_dir`."""
  return sorted(glob.glob(os.path.join(proto_dir, "*.proto")))


def compile_protos(proto_dir, out_root):
  """Generates `<out_root>/object_detection/protos/<name>_pb2.py` for every source.

  Args:
    proto_dir: folder holding the `.proto` sources.
    out_root: folder that plays the role of the import root (the repository root, or a build
      or temp folder).

  Raises:
    RuntimeError: grpcio-tools is missing or protoc reports an error (its message is kept).
  """
  try:
    from grpc_tools import protoc  # pylint: disable=import-outside-toplevel
    import grpc_tools  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise RuntimeError(
        "grpcio-tools is needed to compile the .proto schema (pip install grpcio-tools); "
        f"got: {e}") from e
  sources = proto_sources(proto_dir)
  if not sources:
    raise RuntimeError(f"no .proto files in {proto_dir}")
  os.makedirs(os.path.join(out_root, VIRTUAL_DIR), exist_ok=True)
  well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
  args = ["grpc_tools.protoc",
          f"--proto_path={VIRTUAL_DIR}={os.path.abspath(proto_dir)}",
          f"--proto_path={well_known}",
          f"--python_out={os.path.abspath(out_root)}"]
  args += [f"{VIRTUAL_DIR}/{os.path.basename(s)}" for s in sources]
  if protoc.main(args) != 0:
    raise RuntimeError(f"protoc failed on {proto_dir} (see the messages above)")


def is_stale(proto_dir, out_root):
  """True when a generated module is missing or older than its `.proto` source."""
  for src in proto_sources(proto_dir):
    name = os.path.splitext(os.path.basename(src))[0]
    gen = os.path.join(out_root, VIRTUAL_DIR, name + "_pb2.py")
    if not os.path.exists(gen) or os.path.getmtime(gen) < os.path.getmtime(src):
      return True
  return False


if __name__ == "__main__":
  root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
  compile_protos(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "protos"),
                 sys.argv[2] if len(sys.argv) > 2 else root)
