"""Table-driven name maps: our checkpoint key -> the original's checkpoint key.

A family module (center_net_names, rcnn_names) builds a `NameMap` from a live model: an ordered
list of `Rule`s, each a regular expression over OUR canonical keys (object_graph.canonical_key)
and the original key it stands for, plus the keys on either side that have no counterpart by
design (with the reason, which the conversion report prints).

    rules = [Rule(r"model/_feature_extractor/(.*)", r"model/_feature_extractor/\\1"), ...]
    name_map = NameMap("CenterNet", rules, ours_only={r"model/training_step": "step counter"})
    name_map.original_key("model/_feature_extractor/_network/output_conv/0/conv/kernel")

The first rule whose pattern matches the whole key wins. A rule's target is a `re.Match.expand`
template, or a callable(match) -> str (for indices computed from the live model, such as Keras 2
`layer_with_weights-K` numbering), or None (no counterpart).
"""

import dataclasses
import re

import keras


@dataclasses.dataclass(frozen=True)
class Rule:
  """pattern: regex (full match) over our canonical key; target: template, callable or None."""
  pattern: str
  target: object

  def __post_init__(self):
    object.__setattr__(self, "_regex", re.compile(self.pattern))

  def apply(self, key):
    """The original key for `key`, `False` when this rule does not match, None when it matches
    a key without counterpart."""
    match = self._regex.fullmatch(key)  # pylint: disable=no-member
    if match is None:
      return False
    if self.target is None:
      return None
    if callable(self.target):
      return self.target(match)
    return match.expand(self.target)


class NameMap:
  """Our canonical keys -> the original's short keys, with the by-design exceptions.

  Args:
    family: str, for messages ("CenterNet", "DeepMAC", "Faster R-CNN", ...).
    rules: ordered list of Rule.
    ours_only: {regex: reason}: our variables that the original does not have (left as built).
    original_only: {regex: reason}: the original's variables we do not keep (not an error).
  """

  def __init__(self, family, rules, ours_only=None, original_only=None):
    self.family = family
    self.rules = list(rules)
    self.ours_only = {re.compile(p): r for p, r in (ours_only or {}).items()}
    self.original_only = {re.compile(p): r for p, r in (original_only or {}).items()}

  def original_key(self, key):
    """The original's short key for our canonical `key`, or None when no rule gives one."""
    for rule in self.rules:
      result = rule.apply(key)
      if result is not False:
        return result
    return None

  def ours_only_reason(self, key):
    return next((r for p, r in self.ours_only.items() if p.fullmatch(key)), None)

  def original_only_reason(self, key):
    return next((r for p, r in self.original_only.items() if p.fullmatch(key)), None)


def weighted_layer_indices(functional):
  """{id(layer): K} where K is the layer's rank among the layers WITH weights of a Keras
  functional model, in `model.layers` order: the `layer_with_weights-K` name under which Keras 2
  checkpoints such a layer. (Keras 3 orders `layers` as Keras 2 did, by depth then traversal; a
  test checks it on the Keras-applications ResNets against the original's checkpoints.)"""
  ranked = [layer for layer in functional.layers if layer.weights]
  return {id(layer): k for k, layer in enumerate(ranked)}


def functional_rule(ours_prefix, original_prefix, functional, rank_offset=0):
  """Rule for a Keras 3 functional model held at `ours_prefix` (keys `_operations/I/var`),
  checkpointed by Keras 2 as `original_prefix/layer_with_weights-K/var` (K + rank_offset when
  the original's model continues beyond the start of ours)."""
  if not isinstance(functional, keras.Model):
    raise TypeError(f"functional_rule: not a Keras model (got {type(functional).__name__})")
  ranks = weighted_layer_indices(functional)
  operations = functional.operations

  def target(match):
    layer = operations[int(match.group(1))]
    return (f"{original_prefix}/layer_with_weights-{ranks[id(layer)] + rank_offset}/"
            f"{match.group(2)}")

  return Rule(re.escape(ours_prefix) + r"/_operations/(\d+)/(.*)", target)
