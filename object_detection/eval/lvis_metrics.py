"""`lvis_mask_metrics`: LVIS federated mask evaluation through the `lvis` package.

Same evaluator interface and input dicts as eval.metrics.CocoEvaluator (masks required). LVIS
needs, per image, the categories verified absent (`neg_category_ids`) and those not exhaustively
annotated (`not_exhaustive_category_ids`): pass `groundtruth_labeled_classes` ([K] 1-based ids
verified in the image; default: every category, i.e. COCO-style exhaustive labels) and
`groundtruth_not_exhaustive_classes` ([K], default none) in the ground-truth dict. Categories may
carry an LVIS `frequency` ("r", "c", "f"; default "f"). Keys: `DetectionMasks_AP`, `_AP50`,
`_AP75`, `_APs`, `_APm`, `_APl`, `_APr`, `_APc`, `_APf`, `_AR@300`, ... (the lvis package's).
"""

import contextlib
import io
import logging
import sys
import types

import numpy as np

from object_detection.core.errors import ConfigError
from object_detection.eval import coco_tools

INSTALL_HINT = "pip install 'deepmac[lvis]' (or lvis==0.5.3)"


def import_lvis():
  """Imports the lvis package without letting it touch the root logger.

  `import lvis` runs `logging.basicConfig(level=WARN)` (a root handler and level for the whole
  process) and imports lvis.vis, hence cv2 and matplotlib, which fail on images without libGL.
  The root logger's handlers and level are restored afterwards; when only the visualisation
  imports fail, lvis.vis is replaced by an empty module (evaluation does not use it).

  Returns:
    (lvis.eval, lvis.lvis, lvis.results) modules.
  Raises:
    ConfigError: lvis is not installed.
  """
  root = logging.getLogger()
  handlers, level = list(root.handlers), root.level
  try:
    try:
      import lvis  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError as e:
      if e.name is None or e.name.split(".")[0] == "lvis":
        raise
      # cv2 / matplotlib (lvis.vis only) are missing or broken: evaluate without them.
      for name in [m for m in sys.modules if m == "lvis" or m.startswith("lvis.")]:
        del sys.modules[name]
      stub = types.ModuleType("lvis.vis")
      stub.LVISVis = None
      sys.modules["lvis.vis"] = stub
      import lvis  # noqa: F401,F811  pylint: disable=import-outside-toplevel,unused-import,reimported
  except ImportError as e:
    raise ConfigError(f"lvis_mask_metrics: needs the optional lvis package (got {e}; expected "
                      f"{INSTALL_HINT})") from e
  finally:
    root.handlers[:] = handlers
    root.setLevel(level)
  from lvis import eval as lvis_eval  # pylint: disable=import-outside-toplevel
  from lvis import lvis as lvis_api  # pylint: disable=import-outside-toplevel
  from lvis import results as lvis_results  # pylint: disable=import-outside-toplevel
  return lvis_eval, lvis_api, lvis_results


@contextlib.contextmanager
def _numpy_float_alias():
  """lvis 0.5.3 (the last release) uses `np.float`, removed in NumPy 1.24: alias it while LVIS
  runs, then remove the alias again."""
  added = not hasattr(np, "float")
  if added:
    np.float = float
  try:
    yield
  finally:
    if added:
      del np.float


class LvisMaskEvaluator:
  """Accumulates images; `evaluate()` runs LVISEval(iou_type="segm")."""

  def __init__(self, categories, max_dets=300):
    self._lvis_eval, self._lvis_api, self._lvis_results = import_lvis()
    self._categories = [{"id": int(c["id"]), "name": str(c["name"]),
                         "frequency": c.get("frequency", "f")} for c in categories]
    self._max_dets = max_dets
    self._iou_type = "segm"
    self.clear()

  @property
  def needs_masks(self):
    """True when images must come with pasted detection masks and ground-truth masks."""
    return self._iou_type == "segm"

  def clear(self):
    self._images, self._groundtruth, self._detections = [], [], []
    self._seen = set()

  def add_single_ground_truth_image_info(self, image_id, groundtruth):
    if image_id in self._seen:
      return
    self._seen.add(image_id)
    masks = groundtruth["groundtruth_instance_masks"]
    classes = np.asarray(groundtruth["groundtruth_classes"]).reshape(-1)
    labeled = groundtruth.get("groundtruth_labeled_classes")
    labeled = ({c["id"] for c in self._categories} if labeled is None
               else {int(c) for c in np.asarray(labeled).reshape(-1)})
    positive = {int(c) for c in classes}
    self._images.append({
        "id": image_id, "height": int(np.shape(masks)[1]), "width": int(np.shape(masks)[2]),
        "neg_category_ids": sorted(labeled - positive),
        "not_exhaustive_category_ids": [int(c) for c in np.asarray(
            groundtruth.get("groundtruth_not_exhaustive_classes", [])).reshape(-1)]})
    self._groundtruth += coco_tools.groundtruth_annotations(
        image_id, np.asarray(groundtruth["groundtruth_boxes"]).reshape(-1, 4), classes,
        masks=masks, areas=groundtruth.get("groundtruth_area"),
        first_annotation_id=len(self._groundtruth) + 1)

  def add_single_detected_image_info(self, image_id, detections):
    self._detections += coco_tools.detection_annotations(
        image_id, np.asarray(detections["detection_boxes"]).reshape(-1, 4),
        np.asarray(detections["detection_scores"]).reshape(-1),
        np.asarray(detections["detection_classes"]).reshape(-1),
        masks=detections["detection_masks"])

  def evaluate(self):
    lvis_eval, lvis_api, lvis_results = self._lvis_eval, self._lvis_api, self._lvis_results
    gt = lvis_api.LVIS.__new__(lvis_api.LVIS)
    gt.logger = logging.getLogger("lvis")
    gt.dataset = {"images": self._images, "categories": self._categories,
                  "annotations": [dict(a, iscrowd=0) for a in self._groundtruth]}
    gt._create_index()  # pylint: disable=protected-access
    if not self._detections:
      return {"DetectionMasks_AP": 0.0}
    with contextlib.redirect_stdout(io.StringIO()), _numpy_float_alias():
      dt = lvis_results.LVISResults(gt, [dict(d) for d in self._detections],
                                    max_dets=self._max_dets)
      ev = lvis_eval.LVISEval(gt, dt, iou_type="segm")
      ev.run()
    return {f"DetectionMasks_{k}": float(v) for k, v in ev.get_results().items()}

