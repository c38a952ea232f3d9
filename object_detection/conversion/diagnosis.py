"""Why a checkpoint does not fit: describe both sides in the original's naming and compare.

`describe(shapes)` reads a {original short key: shape} dict (a checkpoint, or what our model
would need, obtained through the name map) and returns the facts that usually differ when a
checkpoint belongs to another config: the model family, num_classes, the backbone (kind, stacks,
width, depth), the DeepMAC mask network (kind and depth) and its embedding sizes. `hints`
compares the two descriptions and names the config fields to check.
"""

import re

_HEADS = "model/_prediction_head_dict/"
_MASK = "model/_mask_net/_net/"
_FE = "model/_feature_extractor/"


def _last_layer_bias(shapes, head):
  ranks = [int(m.group(1)) for k in shapes
           for m in [re.fullmatch(re.escape(_HEADS + head) + r"/0/layer_with_weights-(\d+)/bias", k)]
           if m]
  if not ranks:
    return None
  return shapes[f"{_HEADS}{head}/0/layer_with_weights-{max(ranks)}/bias"][0]


def _family(keys):
  if any(k.startswith("feature_extractor/") for k in keys):
    return "classification backbone"
  if any(k.startswith(_HEADS) for k in keys):
    return "DeepMAC" if any(k.startswith("model/_mask_net/") for k in keys) else "CenterNet"
  if any("_first_stage_box_predictor" in k or "FirstStage" in k or "first_stage" in k.lower()
         for k in keys):
    return ("Mask R-CNN" if any("mask" in k.lower() for k in keys if "box_predictor" in k.lower())
            else "Faster R-CNN")
  return "unknown"


def _backbone(shapes):
  keys = [k for k in shapes if k.startswith(_FE)]
  if not keys:
    return None
  if any(k.startswith(_FE + "_network/") for k in keys):
    stacks = {m.group(1) for k in keys for m in [re.search(r"_network/hourglass_network/(\d+)/", k)]
              if m}
    stem = shapes.get(_FE + "_network/downsample_input/conv_block/conv/kernel") or \
        shapes.get(_FE + "_network/conv_input/conv_block/conv/kernel")
    width = stem[-1] if stem else "?"
    return f"hourglass, {len(stacks)} stack(s), {width} stem channels, {len(keys)} variables"
  convs = [k for k in keys if k.startswith(_FE + "_base_model/") and k.endswith("/kernel")]
  if convs:
    return f"ResNet ({len(convs)} convolutions, {len(keys)} variables)"
  return f"{len(keys)} variables"


def _mask_network(shapes):
  keys = [k for k in shapes if k.startswith(_MASK)]
  if not any(k.startswith("model/_mask_net/") for k in shapes):
    return None
  if not keys:
    return "parameter-free (embedding_projection / cond_inst)"
  if any(k.startswith(_MASK + "model/") for k in keys):
    bns = {m.group(1) for k in keys for m in [re.match(re.escape(_MASK) +
                                                      r"model/layer_with_weights-(\d+)/gamma", k)]
           if m}
    return f"resnet ({len(bns) // 3} basic blocks)"
  if any(k.startswith(_MASK + "fc1/") for k in keys):
    return "fully_connected"
  blocks = {m.group(0) for k in keys for m in [re.match(
      re.escape(_MASK) + r"hourglass_network/.*?/\d+/", k)] if m}
  return f"hourglass ({len(blocks)} residual blocks in the hourglass, {len(keys)} variables)"


def _mask_input_channels(shapes):
  for key in (_MASK + "conv_input/conv_block/conv/kernel", _MASK + "input_layer/kernel"):
    if key in shapes:
      return shapes[key][-2]
  return None


def describe(shapes):
  """{fact: value} of a model in the original's naming (values None when absent)."""
  return {
      "family": _family(list(shapes)),
      "num_classes": _last_layer_bias(shapes, "object_center"),
      "backbone": _backbone(shapes),
      "mask network (network_type)": _mask_network(shapes),
      "mask head input channels (pixel_embedding_dim + 2*use_xy + dim)":
          _mask_input_channels(shapes),
      "instance embedding dim (dim)": _last_layer_bias(shapes, "INSTANCE_EMBEDDING"),
      "pixel embedding dim (pixel_embedding_dim)": _last_layer_bias(shapes, "PIXEL_EMBEDDING"),
  }


def hints(checkpoint_shapes, expected_shapes):
  """Sentences naming what differs: `<fact>: checkpoint has X, this config builds Y`."""
  theirs, ours = describe(checkpoint_shapes), describe(expected_shapes)
  if theirs["family"] != ours["family"] and "unknown" not in (theirs["family"], ours["family"]):
    return [f"the checkpoint is a {theirs['family']} model, the config builds {ours['family']}"]
  out = []
  for fact, value in theirs.items():
    if value != ours[fact] and not (value is None and ours[fact] is None):
      out.append(f"{fact}: checkpoint has {value}, this config builds {ours[fact]}")
  return out
