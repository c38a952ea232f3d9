"""The package's layering rules, checked on the source with `ast` (no imports, well under 2 s).

1. Only `builders/`, `config/`, `protos/` and `utils/config_util.py` (the original's public
   config API) import the generated `*_pb2` modules: everything else takes plain values.
2. No import cycle between files, nor between packages (each folder, and each first-level
   package of object_detection/ with everything below it). Every import counts, also the ones
   inside functions: deferring an import hides a cycle, it does not remove it.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "object_detection"
PACKAGE = "object_detection"

PB2_ALLOWED_DIRS = ("builders", "config", "protos")
PB2_ALLOWED_FILES = ("utils/config_util.py",)


def _modules():
  """{dotted module name: path} of every hand-written module (generated *_pb2 excluded)."""
  modules = {}
  for path in sorted(ROOT.rglob("*.py")):
    if path.name.endswith("_pb2.py"):
      continue
    parts = (PACKAGE,) + path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
      parts = parts[:-1]
    modules[".".join(parts)] = path
  return modules


MODULES = _modules()


def _imported_names(name, path):
  """Dotted names a module imports (absolute; relative imports resolved), anywhere in the file."""
  tree = ast.parse(path.read_text(), str(path))
  package = name if path.name == "__init__.py" else name.rpartition(".")[0]
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        yield alias.name
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([node.module] if node.module else []))
      for alias in node.names:
        yield f"{base}.{alias.name}"  # a submodule, or a name defined in `base`


def _resolve(dotted):
  """The project module a dotted import name refers to, or None (third-party)."""
  while dotted:
    if dotted in MODULES:
      return dotted
    dotted = dotted.rpartition(".")[0]
  return None


def _module_graph():
  graph = {}
  for name, path in MODULES.items():
    targets = {_resolve(imported) for imported in _imported_names(name, path)}
    graph[name] = {t for t in targets if t and t != name and t != PACKAGE}
  return graph


GRAPH = _module_graph()


def _cycles(graph):
  """Strongly connected components with more than one node (Tarjan), each as a cycle path."""
  index, low, stack, on_stack, components = {}, {}, [], set(), []

  def visit(node):
    index[node] = low[node] = len(index)
    stack.append(node)
    on_stack.add(node)
    for succ in sorted(graph.get(node, ())):
      if succ not in index:
        visit(succ)
        low[node] = min(low[node], low[succ])
      elif succ in on_stack:
        low[node] = min(low[node], index[succ])
    if low[node] == index[node]:
      component = set()
      while True:
        member = stack.pop()
        on_stack.discard(member)
        component.add(member)
        if member == node:
          break
      if len(component) > 1:
        components.append(component)

  for node in sorted(graph):
    if node not in index:
      visit(node)
  return [_one_cycle(graph, component) for component in components]


def _one_cycle(graph, component):
  """A shortest cycle through the component's first node: 'a -> b -> a'."""
  start = min(component)
  paths, seen = [[start]], {start}
  while paths:
    path = paths.pop(0)
    for succ in sorted(graph.get(path[-1], ())):
      if succ == start:
        return " -> ".join(path + [start])
      if succ in component and succ not in seen:
        seen.add(succ)
        paths.append(path + [succ])
  return " <-> ".join(sorted(component))


def _collapse(graph, group):
  """The graph between groups of modules (edges inside a group dropped)."""
  out = {}
  for source, targets in graph.items():
    edges = out.setdefault(group(source), set())
    edges.update(group(t) for t in targets if group(t) != group(source))
  return out


def _folder(name):
  """The package (folder) holding a module; a package's __init__ belongs to its own folder.
  Modules directly under object_detection/ (inputs, model_lib, the entry points) stand alone."""
  path = MODULES[name]
  folder = name if path.name == "__init__.py" else name.rpartition(".")[0]
  return name if folder == PACKAGE else folder


def _first_level(name):
  """object_detection.<first part> (a first-level package, or a top-level module)."""
  return ".".join(name.split(".")[:2])


def _report(cycles, what):
  return f"import cycles between {what}:\n  " + "\n  ".join(cycles)


def test_only_builders_and_config_import_protos():
  offenders = []
  for name, path in MODULES.items():
    relative = path.relative_to(ROOT).as_posix()
    if relative.split("/")[0] in PB2_ALLOWED_DIRS or relative in PB2_ALLOWED_FILES:
      continue
    pb2 = sorted({i for i in _imported_names(name, path)
                  if any(part.endswith("_pb2") for part in i.split("."))})
    if pb2:
      offenders.append(f"{relative}: {', '.join(pb2)}")
  assert not offenders, ("modules outside builders/, config/, protos/ and utils/config_util.py "
                         "import generated protos:\n  " + "\n  ".join(offenders))


def test_no_import_cycle_between_files():
  cycles = _cycles(GRAPH)
  assert not cycles, _report(cycles, "files")


def test_no_import_cycle_between_folders():
  cycles = _cycles(_collapse(GRAPH, _folder))
  assert not cycles, _report(cycles, "packages (folders)")


def test_no_import_cycle_between_first_level_packages():
  cycles = _cycles(_collapse(GRAPH, _first_level))
  assert not cycles, _report(cycles, "first-level packages")


def test_the_checker_sees_imports_and_cycles():
  """The checks above could fail: the graph has the edges we know of, and _cycles finds one."""
  assert "object_detection.core.errors" in GRAPH["object_detection.core.registry"]
  assert "object_detection.builders.deepmac_builder" in GRAPH[
      "object_detection.builders.center_net_builder"]
  assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]
  assert _first_level("object_detection.builders.model_builder") == "object_detection.builders"
  assert _folder("object_detection.data.augment.flips") == "object_detection.data.augment"
  assert _folder("object_detection.data.augment") == "object_detection.data.augment"
  assert _folder("object_detection.inputs") == "object_detection.inputs"
