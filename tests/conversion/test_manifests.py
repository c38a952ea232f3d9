"""Full-size mapping: every key of the original's full-size checkpoints maps onto our model.

The manifests in ../shared/reference/manifests list every checkpoint entry (name, shape, dtype)
of the original's full-size models as its exporter saves them. For each, our model is built from
the same config (variables created by one call at a small input: names and shapes do not depend
on the input size) and the conversion plan must pair 100% of the manifest's model variables with
ours, shapes equal, nothing left over on either side except the by-design entries.
Names and shapes only: no weights are read. Each model is built once (a few CPU seconds for the
HG-104 ones).
"""

import gc
import pathlib

import pytest

from object_detection.builders import conversion_builder
from object_detection.config import loader
from object_detection.conversion import converter
from object_detection.conversion import object_graph
from object_detection.conversion import restore
from object_detection.conversion.testing import read_manifest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# manifest -> (config location, config name); "shared" = ../shared/reference_configs.
CASES = {
    "center_net_deepmac_1024x1024_coco_tpu-128": ("shared", None),
    "center_net_deepmac_512x512_voc_only_tpu-32": ("shared", None),
    "centernet_hg104_512x512_coco17_tpu-8": ("repo", "centernet_hourglass104_512x512_coco17_tpu-8"),
    "faster_rcnn_resnet50_v1_640x640_coco17_tpu-8": ("shared", None),
    "mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8": ("shared", None),
}
# The original's model variables without a counterpart here, by design (see the name maps).
BY_DESIGN = {"model/_self_supervised_rng/_state_var"}


def _config_path(shared_dir, manifest):
  where, name = CASES[manifest]
  if where == "shared":
    return shared_dir / "reference_configs" / f"{manifest}.config"
  return REPO_ROOT / "configs" / "tf2" / f"{name}.config"


@pytest.mark.slow
@pytest.mark.parametrize("manifest", sorted(CASES))
def test_manifest_maps_completely(manifest, shared_dir):
  shapes = {object_graph.short_key(k): v
            for k, v in read_manifest(shared_dir / "reference" / "manifests" /
                                      f"{manifest}.tsv").items()
            if k.startswith("model/") and k.endswith(object_graph.VALUE_SUFFIX)}
  pipeline = loader.load_pipeline_config(str(_config_path(shared_dir, manifest)))
  model = conversion_builder.build_with_variables(pipeline.model)
  variables = object_graph.canonical_variables({"model": model})
  plan = converter.make_plan(variables, shapes, restore.model_name_map(model))
  assert plan.complete, plan.summary()
  assert {k for k, _ in plan.original_only} == BY_DESIGN & set(shapes)
  assert len(plan.pairs) + len(plan.original_only) == len(shapes)
  # Fine-tuning type "detection" from this checkpoint: the feature extractor only, complete.
  detection, _ = restore.plan_for(model, "detection", shapes)
  assert detection.complete, detection.summary()
  extractor = ("model/_feature_extractor/", "model/_feature_extractor_for_")
  assert detection.pairs and all(k.startswith(extractor) for _, k in detection.pairs)
  assert detection.num_original == sum(k.startswith(extractor) for k in shapes)
  del model, variables
  gc.collect()
