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


_RCNN_BOX = "model/_mask_rcnn_box_predictor/"
# Convolutions of the two feature-extractor halves -> feature_extractor.type.
_RCNN_BACKBONES = {53: "faster_rcnn_resnet50_keras", 104: "faster_rcnn_resnet101_keras",
                   155: "faster_rcnn_resnet152_keras",
                   244: "faster_rcnn_inception_resnet_v2_keras"}


def _rcnn_num_classes(shapes):
  ranks = [int(m.group(1)) for k in shapes for m in [re.fullmatch(
      re.escape(_RCNN_BOX) + r"_class_prediction_head/_class_predictor_layers/(\d+)/bias", k)]
           if m]
  if not ranks:
    return None
  return shapes[f"{_RCNN_BOX}_class_prediction_head/_class_predictor_layers/{max(ranks)}/bias"][
      0] - 1


def _rcnn_backbone(shapes):
  convs = [k for k in shapes if k.startswith("model/_feature_extractor_for_")
           and k.endswith("/kernel")]
  if not convs:
    return None
  return f"{_RCNN_BACKBONES.get(len(convs), 'a backbone')} ({len(convs)} convolutions)"


def _rcnn_mask_head(shapes):
  convs = [k for k in shapes if k.startswith(_RCNN_BOX + "_third_stage_heads/")
           and k.endswith("/kernel")]
  return f"{len(convs)} convolutions" if convs else None


def _family(keys):
  if any(k.startswith("feature_extractor/") for k in keys):
    return "classification backbone"
  if any(k.startswith(_HEADS) for k in keys):
    return "DeepMAC" if any(k.startswith("model/_mask_net/") for k in keys) else "CenterNet"
  if any(k.startswith("model/_first_stage_box_predictor") for k in keys):
    return ("Mask R-CNN" if any(k.startswith(_RCNN_BOX + "_third_stage_heads/") for k in keys)
            else "Faster R-CNN")
  return "unknown"


# (stacks, stem channels) -> feature_extractor.type of the hourglass backbones.
_HOURGLASS_BACKBONES = {(2, 128): "hourglass_104", (1, 32): "hourglass_10",
                        (1, 48): "hourglass_20 or hourglass_32", (1, 64): "hourglass_52"}


def _backbone(shapes):
  keys = [k for k in shapes if k.startswith(_FE)]
  if not keys:
    return None
  if any(k.startswith(_FE + "_network/") for k in keys):
    stacks = {m.group(1) for k in keys for m in [re.search(r"_network/hourglass_network/(\d+)/", k)]
              if m}
    stem = shapes.get(_FE + "_network/downsample_input/conv_block/conv/kernel") or \
        shapes.get(_FE + "_network/conv_input/conv_block/conv/kernel")
    width = stem[-1] if stem else None
    name = _HOURGLASS_BACKBONES.get((len(stacks), width), "an hourglass")
    return f"{name} ({len(stacks)} stack(s), {width} stem channels, {len(keys)} variables)"
  convs = [k for k in keys if k.startswith(_FE + "_base_model/") and k.endswith("/kernel")]
  if convs:
    name = {53: "resnet_v1_50_fpn", 104: "resnet_v1_101_fpn"}.get(len(convs), "a ResNet")
    return f"{name} ({len(convs)} convolutions, {len(keys)} variables)"
  return f"{len(keys)} variables"


# Residual blocks inside the mask hourglass -> network_type (the count does not depend on the
# width): hourglass10 = 1 stage of [1, 1] blocks, ... (see models/hourglass_network.py).
_HOURGLASS_BY_BLOCKS = {4: "hourglass10", 7: "hourglass20_no_shortcut",
                        11: "hourglass20 or hourglass20_uniform_size", 20: "hourglass32",
                        34: "hourglass52", 68: "hourglass100"}
_RESNET_BY_BLOCKS = {2: "resnet4", 4: "resnet8", 6: "resnet12", 8: "resnet16", 10: "resnet20"}


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
    blocks = len(bns) // 3
    return _RESNET_BY_BLOCKS.get(blocks, f"a ResNet head with {blocks} basic blocks")
  if any(k.startswith(_MASK + "fc1/") for k in keys):
    return "fully_connected"
  blocks = {m.group(1) for k in keys for m in [re.match(
      re.escape(_MASK) + r"(hourglass_network/.*/(?:encoder_block1|encoder_block2|decoder_block|"
      r"inner_block)/\d+)/conv_block/conv/kernel$", k)] if m}
  return _HOURGLASS_BY_BLOCKS.get(len(blocks),
                                  f"an hourglass head with {len(blocks)} residual blocks")


def _mask_input_channels(shapes):
  for key in (_MASK + "conv_input/conv_block/conv/kernel", _MASK + "input_layer/kernel"):
    if key in shapes:
      return shapes[key][-2]
  return None


def _embedding_kernel(shapes):
  kernel = shapes.get(_HEADS + "INSTANCE_EMBEDDING/0/layer_with_weights-0/kernel")
  return None if kernel is None else f"{kernel[0]}x{kernel[1]}"


def describe(shapes):
  """{fact: value} of a model in the original's naming (values None when absent)."""
  if _family(list(shapes)) in ("Faster R-CNN", "Mask R-CNN"):
    return {"family": _family(list(shapes)), "num_classes": _rcnn_num_classes(shapes),
            "feature extractor (feature_extractor.type)": _rcnn_backbone(shapes),
            "mask head (mask_rcnn_box_predictor)": _rcnn_mask_head(shapes)}
  return {
      "family": _family(list(shapes)),
      "num_classes": _last_layer_bias(shapes, "object_center"),
      "backbone": _backbone(shapes),
      "mask network (network_type)": _mask_network(shapes),
      "mask head input channels (pixel_embedding_dim + 2*use_xy + dim)":
          _mask_input_channels(shapes),
      "instance embedding dim (dim)": _last_layer_bias(shapes, "INSTANCE_EMBEDDING"),
      "pixel embedding dim (pixel_embedding_dim)": _last_layer_bias(shapes, "PIXEL_EMBEDDING"),
      # 3x3 in checkpoints written before the original's `unit_height_conv` flag ([1, 3] after).
      "embedding head kernel": _embedding_kernel(shapes),
  }


def hints(checkpoint_shapes, expected_shapes):
  """Sentences naming what differs: `<fact>: checkpoint has X, this config builds Y`."""
  theirs, ours = describe(checkpoint_shapes), describe(expected_shapes)
  if theirs["family"] != ours["family"] and "unknown" not in (theirs["family"], ours["family"]):
    return [f"the checkpoint is a {theirs['family']} model, the config builds {ours['family']}"]
  out = []
  for fact, value in theirs.items():
    if value != ours.get(fact) and not (value is None and ours.get(fact) is None):
      out.append(f"{fact}: checkpoint has {value}, this config builds {ours.get(fact)}")
  return out
