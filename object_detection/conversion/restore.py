"""Restoring an original checkpoint straight into a live model (no converted copy on disk).

Training (`fine_tune_checkpoint`), evaluation (`--checkpoint_dir`), export
(`--trained_checkpoint_dir`) and inference call `restore_original` when `is_original` says the
checkpoint was written by the original Object Detection API:

    objects = model.restore_map(kind)           # {"model": ...} or {"feature_extractor": ...}
    if restore.is_original(prefix, objects):
      plan = restore.restore_original(model, prefix, kind)

`kind` is the fine-tune checkpoint type: "full" (every variable), "detection" (the feature
extractor; "fine_tune" is its alias) or "classification" (the ImageNet backbone, a Keras
functional model checkpointed by the original as `feature_extractor/layer_with_weights-K/...`).
"""

import tensorflow as tf

from object_detection.conversion import center_net_names
from object_detection.conversion import converter
from object_detection.conversion import diagnosis
from object_detection.conversion import name_map as nm
from object_detection.conversion import object_graph
from object_detection.conversion import original_checkpoint
from object_detection.meta_architectures.center_net import meta_arch as center_net_meta_arch


def model_name_map(model):
  """The NameMap of a built model's family (CenterNet/DeepMAC, Faster/Mask R-CNN)."""
  if isinstance(model, center_net_meta_arch.CenterNetMetaArch):
    return center_net_names.name_map(model)
  from object_detection.conversion import rcnn_names  # pylint: disable=import-outside-toplevel
  if rcnn_names.handles(model):
    return rcnn_names.name_map(model)
  raise ValueError(f"no checkpoint name map for {type(model).__name__} (expected a CenterNet, "
                   "DeepMAC, Faster R-CNN or Mask R-CNN model)")


def _classification_map(objects):
  """Name map for a classification backbone, which the original checkpoints as ONE Keras
  functional model under `feature_extractor` (`feature_extractor/layer_with_weights-K/...`).

  Ours is either that model ({"feature_extractor": model}: CenterNet ResNet-FPN) or its two
  halves ({"first_stage": ..., "second_stage": ...}: Faster R-CNN, whose proposal and box
  classifier halves are cut from one network): the halves' weighted layers follow each other in
  the whole network's order, so the second half's ranks start after the first half's.
  """
  if set(objects) == {"feature_extractor"}:
    return nm.NameMap("classification backbone", [
        nm.functional_rule("feature_extractor", "feature_extractor",
                           objects["feature_extractor"])])
  if set(objects) == {"first_stage", "second_stage"}:
    first = objects["first_stage"]
    offset = len(nm.weighted_layer_indices(first))
    rules = [nm.functional_rule("first_stage", "feature_extractor", first),
             nm.functional_rule("second_stage", "feature_extractor", objects["second_stage"],
                                rank_offset=offset)]
    return nm.NameMap("classification backbone", rules)
  raise ValueError(f"no classification-checkpoint name map for the objects {sorted(objects)}")


def name_map_for(model, kind, objects):
  """The NameMap of `objects` (model.restore_map(kind)) for a fine-tune of type `kind`."""
  if kind == "classification":
    return _classification_map(objects)
  return model_name_map(model)


def is_original(prefix, objects):
  """True when the checkpoint was written by the original API rather than by this package.

  Ours holds every key our checkpoint of `objects` would have. Otherwise the kernel names
  decide: the original's Keras 2 object graph stores `.../kernel`, Keras 3 `.../_kernel`
  (batch-norm keys of the hourglass are the same in both, so shared keys prove nothing).
  """
  ours = {k + object_graph.VALUE_SUFFIX for k in object_graph.variables_by_key(objects)}
  present = set(tf.train.load_checkpoint(prefix).get_variable_to_shape_map())
  if ours <= present:
    return False
  return original_checkpoint.written_by_original(prefix)


def plan_for(model, kind, original_shapes, objects=None):
  """(Plan, our variables) for restoring `kind` from checkpoint entries {short key: shape}
  (names and shapes only: works on a manifest as well as on a checkpoint)."""
  objects = objects if objects is not None else model.restore_map(kind)
  variables = object_graph.canonical_variables(objects)
  names = name_map_for(model, kind, objects)
  restrict = None
  if kind not in ("full", "classification"):
    expected = {names.original_key(k) for k in variables}
    prefixes = {"/".join(k.split("/")[:2]) + "/" for k in expected if k}
    restrict = tuple(sorted(prefixes))
  plan = converter.make_plan(variables, original_shapes, names, restrict_to=restrict)
  if not plan.complete:
    expected_shapes = {names.original_key(k): object_graph.variable_shape(v)
                       for k, v in variables.items() if names.original_key(k)}
    plan.hints = diagnosis.hints(original_shapes, expected_shapes)
  return plan, variables


def plan_restore(model, path, kind="full", objects=None):
  """(Plan, variables, OriginalCheckpoint) for restoring `kind` from an original checkpoint."""
  ckpt = original_checkpoint.read(
      path, root="feature_extractor" if kind == "classification" else "model")
  plan, variables = plan_for(model, kind, ckpt.shapes, objects)
  return plan, variables, ckpt


def restore_original(model, path, kind="full", allow_partial=False, where=None, objects=None):
  """Copies an original checkpoint's values into `model` (variables must exist).

  Raises:
    converter.ConversionError: the checkpoint does not fit (message: counts, first unmatched
      names, likely cause), unless allow_partial.
    DataError: missing or truncated files (named).
  Returns:
    the Plan (its `summary()` is the conversion report).
  """
  plan, variables, ckpt = plan_restore(model, path, kind, objects)
  plan.raise_if_incomplete(where or ckpt.prefix, allow_partial=allow_partial)
  converter.assign(plan, variables, ckpt)
  return plan
