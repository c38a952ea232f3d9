"""Maps an original checkpoint onto a live model: plan (names and shapes only), then assign.

    ckpt = original_checkpoint.read(path)                  # model variables, set-aside entries
    plan = make_plan(canonical_variables({"model": model}), ckpt.shapes, name_map)
    plan.raise_if_incomplete(allow_partial=False)           # ConversionError naming the cause
    assign(plan, variables, ckpt)                           # copies the values
    print(plan.summary())                                   # "mapped N of M ..." + leftovers

`make_plan` needs only names and shapes, so it runs on a checkpoint manifest as well as on a
checkpoint (the full-size mapping tests use the original's manifests).
"""

import dataclasses

import numpy as np

from object_detection.conversion import object_graph
from object_detection.core.errors import DataError


class ConversionError(DataError):
  """The checkpoint does not fit the model (another architecture or config)."""


@dataclasses.dataclass
class Plan:
  """What goes where.

  Attributes:
    family: str, the model family of the name map.
    pairs: [(our canonical key, original key)] to copy (names and shapes agree).
    shape_mismatches: [(our key, original key, our shape, original shape)].
    unmatched_original: original model keys no variable of ours takes (sorted).
    missing_ours: [(our key, expected original key or None)] our variables without a source.
    ours_only: [(our key, reason)] our variables without counterpart by design.
    original_only: [(original key, reason)] the original's variables we do not keep by design.
    num_original: int, the checkpoint's model variables (M of "mapped N of M").
    hints: [str], likely causes when the mapping is incomplete (filled by the family module).
  """
  family: str
  pairs: list
  shape_mismatches: list
  unmatched_original: list
  missing_ours: list
  ours_only: list
  original_only: list
  num_original: int
  hints: list = dataclasses.field(default_factory=list)

  @property
  def complete(self):
    return not (self.shape_mismatches or self.unmatched_original or self.missing_ours)

  def summary(self, limit=10):
    """Human-readable report: counts, then every leftover group (first `limit` of each)."""
    lines = [f"mapped {len(self.pairs)} of {self.num_original} variables of the original's "
             f"checkpoint onto this {self.family} model"]

    def group(title, items):
      if not items:
        return
      lines.append(f"{title} ({len(items)}):")
      lines.extend(f"  {item}" for item in items[:limit])
      if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more")

    group("shape mismatches (ours <- original)",
          [f"{o} {list(so)} <- {k} {list(sk)}" for o, k, so, sk in self.shape_mismatches])
    group("checkpoint variables this model has no place for", self.unmatched_original)
    group("variables of this model the checkpoint does not hold (left at initialization)",
          [o if k is None else f"{o} (expected {k})" for o, k in self.missing_ours])
    group("not in the checkpoint by design (left as built)",
          [f"{o}: {r}" for o, r in self.ours_only])
    group("skipped by design", [f"{k}: {r}" for k, r in self.original_only])
    if self.hints:
      lines.append("likely cause: " + "; ".join(self.hints))
    return "\n".join(lines)

  def raise_if_incomplete(self, where, allow_partial=False):
    """ConversionError unless complete (or `allow_partial`, with at least one pair)."""
    if not self.pairs:
      raise ConversionError(f"{where}: no variable of the checkpoint maps onto this "
                            f"{self.family} model\n{self.summary(limit=5)}")
    if not self.complete and not allow_partial:
      raise ConversionError(
          f"{where}: the checkpoint does not match this {self.family} model (got a partial "
          f"mapping; expected every variable on both sides to match; --allow_partial accepts "
          f"it and leaves the rest at initialization)\n{self.summary(limit=5)}")


def make_plan(variables, original_shapes, name_map, restrict_to=None):
  """Pairs our variables with the original's keys, by name map and shape.

  Args:
    variables: {our canonical key: variable or shape list}.
    original_shapes: {original short key: shape list}, the checkpoint's model variables.
    name_map: name_map.NameMap.
    restrict_to: optional str prefix of the ORIGINAL keys that take part (e.g.
      "model/_feature_extractor/" for a detection fine-tune): other checkpoint variables are
      neither paired nor reported as unmatched, and `num_original` counts only these.
  Returns:
    Plan.
  """
  def shape_of(v):
    return list(v) if isinstance(v, (list, tuple)) else object_graph.variable_shape(v)

  in_scope = {k: s for k, s in original_shapes.items()
              if restrict_to is None or k.startswith(restrict_to)}
  pairs, mismatches, missing, ours_only, taken = [], [], [], [], set()
  for key, var in variables.items():
    original = name_map.original_key(key)
    if original is None or original not in in_scope:
      reason = name_map.ours_only_reason(key)
      if reason is not None:
        ours_only.append((key, reason))
      else:
        missing.append((key, original))
      continue
    if original in taken:
      raise ValueError(f"{name_map.family} name map: two variables map to {original!r}")
    taken.add(original)
    ours, theirs = shape_of(var), list(in_scope[original])
    if ours != theirs:
      mismatches.append((key, original, ours, theirs))
    else:
      pairs.append((key, original))
  unmatched, original_only = [], []
  for key in sorted(in_scope):
    if key in taken:
      continue
    reason = name_map.original_only_reason(key)
    if reason is not None:
      original_only.append((key, reason))
    else:
      unmatched.append(key)
  return Plan(family=name_map.family, pairs=pairs, shape_mismatches=mismatches,
              unmatched_original=unmatched, missing_ours=missing, ours_only=ours_only,
              original_only=original_only, num_original=len(in_scope))


def assign(plan, variables, checkpoint):
  """Copies every planned pair's value from `checkpoint` (OriginalCheckpoint) into `variables`.

  Values are read and assigned one at a time (peak memory: the model plus one tensor).
  Returns the number of values copied.
  """
  count = 0
  for ours, original in plan.pairs:
    var = variables[ours]
    value = checkpoint.value(original)
    dtype = np.dtype(getattr(var.dtype, "name", var.dtype))   # tf.DType or Keras' string
    var.assign(value.astype(dtype, copy=False))
    count += int(value.size)
  return count
