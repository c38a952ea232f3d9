"""lvis is optional: the package imports, loads configs and evaluates COCO metrics with lvis
blocked, leaves the root logger alone, and lvis_mask_metrics says what to install. Runs in a
fresh interpreter, so that no earlier import of lvis hides the problem."""

import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
  def find_spec(self, name, path=None, target=None):
    if name.split(".")[0] in BLOCKED:
      raise ImportError(f"No module named {name!r} (blocked)", name=name)
    return None
sys.meta_path.insert(0, Block())
"""

WITHOUT_LVIS = BLOCK.replace("BLOCKED", "('lvis',)") + textwrap.dedent("""
import logging, sys
import numpy as np
root = logging.getLogger()
before = (list(root.handlers), root.level)
from object_detection.core import registries
registries.load_all()
from object_detection.config import loader
from object_detection.builders import eval_builder
from object_detection.core.errors import ConfigError
from object_detection.protos import eval_pb2
pipeline = loader.load_pipeline_config(sys.argv[1])
assert "lvis_mask_metrics" in registries.EVAL_METRICS
cats = [{"id": 1, "name": "a"}]
config = eval_pb2.EvalConfig(metrics_set=["coco_detection_metrics", "coco_mask_metrics"])
evaluators = eval_builder.build_evaluators(config, cats)
mask = np.zeros([1, 8, 8], np.uint8); mask[0, 2:6, 2:6] = 1
box = np.array([[2., 2., 6., 6.]])
for e in evaluators:
  e.add_single_ground_truth_image_info("i", {"groundtruth_boxes": box,
      "groundtruth_classes": np.array([1]), "groundtruth_instance_masks": mask})
  e.add_single_detected_image_info("i", {"detection_boxes": box,
      "detection_scores": np.array([.9]), "detection_classes": np.array([1]),
      "detection_masks": mask})
  result = e.evaluate()
  assert abs(max(v for k, v in result.items() if k.endswith("Precision/mAP")) - 1.0) < 1e-6
try:
  eval_builder.build_evaluators(eval_pb2.EvalConfig(metrics_set=["lvis_mask_metrics"]), cats)
  raise SystemExit("lvis_mask_metrics built without lvis")
except ConfigError as e:
  print("ERROR:", e)
assert (list(root.handlers), root.level) == before, (root.handlers, root.level)
# (cv2 may be imported anyway: keras tries it, and tolerates its absence)
assert not [m for m in sys.modules if m.split(".")[0] == "lvis"]
print("OK")
""")

WITHOUT_CV2 = BLOCK.replace("BLOCKED", "('cv2',)") + textwrap.dedent("""
import logging
import numpy as np
root = logging.getLogger()
before = (list(root.handlers), root.level)
from object_detection.eval import metrics
e = metrics.lvis_mask_metrics([{"id": 1, "name": "a"}])
mask = np.zeros([1, 8, 8], np.uint8); mask[0, 2:6, 2:6] = 1
box = np.array([[2., 2., 6., 6.]])
e.add_single_ground_truth_image_info("i", {"groundtruth_boxes": box,
    "groundtruth_classes": np.array([1]), "groundtruth_instance_masks": mask})
e.add_single_detected_image_info("i", {"detection_boxes": box,
    "detection_scores": np.array([.9]), "detection_classes": np.array([1]),
    "detection_masks": mask})
print("AP", round(e.evaluate()["DetectionMasks_AP"], 6))
import sys
assert sys.modules["lvis.vis"].LVISVis is None  # the empty stand-in for the cv2 part
assert (list(root.handlers), root.level) == before, (root.handlers, root.level)
""")


# lvis installed (as in `.[test]`): loading a config, building its model and its COCO evaluators
# import no lvis module and leave the root logger alone (matplotlib is not checked: keras imports
# it when present).
INSTALLED_NOT_IMPORTED = textwrap.dedent("""
import importlib.util, logging, sys
assert importlib.util.find_spec("lvis") is not None  # installed: the test means something
root = logging.getLogger()
before = (list(root.handlers), root.level)
from object_detection.config import loader
from object_detection.builders import eval_builder, model_builder
from object_detection.core import registries
registries.load_all()
pipeline = loader.load_pipeline_config(sys.argv[1])
model_builder.build(pipeline.model, is_training=False)
evaluators = eval_builder.build_evaluators(pipeline.eval_config, [
    {"id": i + 1, "name": n} for i, n in enumerate(("square", "circle", "triangle"))])
assert evaluators
assert not [m for m in sys.modules if m.split(".")[0] == "lvis"]
assert (list(root.handlers), root.level) == before, (root.handlers, root.level)
print("OK")
""")


def _python(script, *args):
  env = dict(os.environ, PYTHONPATH=REPO)
  return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                        timeout=300, env=env)


def test_without_lvis(tmp_path):
  config = os.path.join(REPO, "configs", "tf2",
                        "center_net_deepmac_hourglass10_128x128_shapes_cpu.config")
  proc = _python(WITHOUT_LVIS, config)
  assert proc.returncode == 0 and proc.stdout.endswith("OK\n"), proc.stdout + proc.stderr[-3000:]
  assert ("ERROR: eval_config.metrics_set[0]: lvis_mask_metrics: needs the optional lvis "
          "package") in proc.stdout
  assert "pip install 'deepmac[lvis]'" in proc.stdout


def test_lvis_without_opencv_still_evaluates_and_keeps_the_root_logger():
  proc = _python(WITHOUT_CV2)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.strip() == "AP 1.0"


def test_lvis_installed_is_not_imported_by_a_config_load():
  config = os.path.join(REPO, "configs", "tf2",
                        "center_net_deepmac_hourglass10_128x128_shapes_cpu.config")
  proc = _python(INSTALLED_NOT_IMPORTED, config)
  assert proc.returncode == 0 and proc.stdout.endswith("OK\n"), proc.stdout + proc.stderr[-3000:]
