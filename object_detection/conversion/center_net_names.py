"""CenterNet and DeepMAC: our checkpoint keys -> the original's (facts from its object graph).

The original's CenterNetMetaArch (a Keras 2 model) holds:
  _feature_extractor            the extractor; hourglass ones as `_network/...` with the same
                                attribute names as ours (models/hourglass_network.py); ResNet-FPN
                                ones as `_base_model/layer_with_weights-K/...` (the Keras-
                                applications ResNet) and `_feature_extractor_model/
                                layer_with_weights-K/...` (K = 1 top 1x1 conv, then per level
                                3 layers: lateral 1x1 conv, 3x3 conv, batch norm)
  _prediction_head_dict/NAME/S  one Keras Sequential per head and backbone stack S, NAME in
                                object_center, box/offset, box/scale, INSTANCE_EMBEDDING,
                                PIXEL_EMBEDDING (written `box.Soffset` in keys: `/` is escaped);
                                its hidden convs are layer_with_weights-0..n-1, the output conv n
  _mask_net/_net                DeepMAC's mask network: hourglass ones with our attribute names;
                                ResNet ones as `input_layer` plus a Keras functional `model`
                                whose weighted layers come block by block in the order
                                preact BN, conv1, BN1, conv2, BN2 (, 1x1 shortcut conv);
                                fully_connected as input_layer, fc1, fc2
  _mask_net/project_out         the 1x1 conv to one channel
  _self_supervised_rng          a tf.random.Generator state (no weights; not kept)
"""

import re

from object_detection.conversion import name_map as nm
from object_detection.meta_architectures.center_net import box_task
from object_detection.meta_architectures.center_net import object_center_task
from object_detection.meta_architectures.deepmac import mask_networks
from object_detection.meta_architectures.deepmac import task as deepmac_task
from object_detection.models import center_net_extractors

_TASK = r"model/(?:_tasks/\d+|_deepmac_task)"
_ORIGINAL_HEADS = "model/_prediction_head_dict"
_ORIGINAL_MASK_NET = "model/_mask_net"

# Order of a pre-activation basic block's weighted layers in the original's functional model.
_RESNET_BLOCK_ORDER = ("preact_bn", "conv1", "bn1", "conv2", "bn2", "shortcut")


def _head_rules(attribute, original_name, heads):
  """Rules for one list of PredictionHeads (one per backbone stack)."""
  if not heads:
    return []
  num_convs = len(heads[0].convs)
  escaped = original_name.replace("/", ".S")
  prefix = f"{_ORIGINAL_HEADS}/{escaped}"
  return [
      nm.Rule(rf"{_TASK}/{attribute}/(\d+)/convs/(\d+)/(.*)",
              rf"{prefix}/\1/layer_with_weights-\2/\3"),
      nm.Rule(rf"{_TASK}/{attribute}/(\d+)/out_conv/(.*)",
              rf"{prefix}/\1/layer_with_weights-{num_convs}/\2"),
  ]


def _task_rules(model):
  rules = []
  for task in model.tasks:
    if isinstance(task, object_center_task.ObjectCenterTask):
      rules += _head_rules("center_heads", "object_center", task.center_heads)
    elif isinstance(task, box_task.BoxTask):
      rules += _head_rules("scale_heads", "box/scale", task.scale_heads)
      rules += _head_rules("offset_heads", "box/offset", task.offset_heads)
    elif isinstance(task, deepmac_task.DeepMACTask):
      rules += _head_rules("instance_heads", "INSTANCE_EMBEDDING", task.instance_heads)
      rules += _head_rules("pixel_heads", "PIXEL_EMBEDDING", task.pixel_heads)
      rules += _mask_net_rules(task.mask_net)
    else:
      raise ValueError(f"center_net_names: no checkpoint name map for task "
                       f"{type(task).__name__} (expected ObjectCenterTask, BoxTask, DeepMACTask)")
  return rules


def _resnet_block_target(blocks):
  """callable(match) for `blocks/B/LAYER/VAR` -> `model/layer_with_weights-K/VAR`."""
  offsets, rank = [], 0
  for block in blocks:
    offsets.append(rank)
    rank += 5 + (block.shortcut is not None)

  def target(match):
    block, layer, var = int(match.group(1)), match.group(2), match.group(3)
    return (f"{_ORIGINAL_MASK_NET}/_net/model/layer_with_weights-"
            f"{offsets[block] + _RESNET_BLOCK_ORDER.index(layer)}/{var}")

  return target


def _mask_net_rules(mask_net):
  ours = rf"{_TASK}/mask_net"
  rules = [nm.Rule(rf"{ours}/project_out/(.*)", rf"{_ORIGINAL_MASK_NET}/project_out/\1")]
  net = mask_net.net
  if isinstance(net, mask_networks.ResNetMaskNetwork):
    rules += [
        nm.Rule(rf"{ours}/net/input_layer/(.*)", rf"{_ORIGINAL_MASK_NET}/_net/input_layer/\1"),
        nm.Rule(rf"{ours}/net/blocks/(\d+)/({'|'.join(_RESNET_BLOCK_ORDER)})/(.*)",
                _resnet_block_target(net.blocks)),
    ]
  else:  # hourglass networks and the fully connected head keep the original's names
    rules.append(nm.Rule(rf"{ours}/net/(.*)", rf"{_ORIGINAL_MASK_NET}/_net/\1"))
  return rules


def _extractor_rules(extractor):
  ours = "model/_feature_extractor"
  if isinstance(extractor, center_net_extractors.HourglassFeatureExtractor):
    return [nm.Rule(rf"{ours}/_network/(.*)", rf"{ours}/_network/\1")]
  if isinstance(extractor, center_net_extractors.ResNetV1FpnFeatureExtractor):
    fpn = f"{ours}/_feature_extractor_model"
    return [
        nm.functional_rule(f"{ours}/_base_model", f"{ours}/_base_model", extractor._base_model),  # pylint: disable=protected-access
        nm.Rule(rf"{ours}/top_conv/(.*)", rf"{fpn}/layer_with_weights-1/\1"),
        nm.Rule(rf"{ours}/(residual_convs|merge_convs|merge_norms)/(\d)/(.*)",
                lambda m: (f"{fpn}/layer_with_weights-"
                           f"{2 + 3 * int(m.group(2)) + _FPN_OFFSETS[m.group(1)]}/{m.group(3)}")),
    ]
  raise ValueError(f"center_net_names: no checkpoint name map for the feature extractor "
                   f"{type(extractor).__name__}")


_FPN_OFFSETS = {"residual_convs": 0, "merge_convs": 1, "merge_norms": 2}


def name_map(model):
  """NameMap for a built CenterNetMetaArch / DeepMACMetaArch."""
  family = "DeepMAC" if any(isinstance(t, deepmac_task.DeepMACTask) for t in model.tasks) \
      else "CenterNet"
  rules = _extractor_rules(model.feature_extractor) + _task_rules(model)
  return nm.NameMap(
      family, rules,
      ours_only={r"model/training_step": "training-step counter of the warm-ups (starts at 0)"},
      original_only={
          re.escape(f"model/_self_supervised_rng/_state_var"):
              "random-generator state of augmented self-supervision (not a weight)"})
