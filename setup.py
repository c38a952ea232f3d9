"""Build hook: compiles `protos/*.proto` into `object_detection/protos/*_pb2.py`.

Everything else about the package is in pyproject.toml. The generated modules are written into the
source tree (so `pip install -e .` sees them) and copied into the build tree for wheels.
"""

import importlib.util
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))


def _generate():
  spec = importlib.util.spec_from_file_location(
      "_od_proto_compile", os.path.join(ROOT, "object_detection", "protos", "_compile.py"))
  compiler = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(compiler)
  compiler.compile_protos(os.path.join(ROOT, "protos"), ROOT)


class BuildPyWithProtos(build_py):
  """Generates the `_pb2` modules before the usual copy of Python files."""

  def run(self):
    _generate()
    super().run()
    if not self.editable_mode:
      dst = os.path.join(self.build_lib, "object_detection", "protos")
      os.makedirs(dst, exist_ok=True)
      for name in os.listdir(os.path.join(ROOT, "protos")):
        if name.endswith(".proto"):
          shutil.copy(os.path.join(ROOT, "protos", name), dst)


setup(cmdclass={"build_py": BuildPyWithProtos})
