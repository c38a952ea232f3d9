"""CenterNet ResNet v2 extractors: `resnet_v2_50`, `resnet_v2_101`.

keras.applications ResNet50V2 / ResNet101V2 (weights=None, include_top=False), read at
`conv5_block3_out` (stride 32, 2048 channels; the application's final `post_bn` is built but not
used, as the original), then 3 x [3x3 conv(f) + BN + ReLU, 3x3/2 transposed conv(f) + BN +
ReLU] with f = 256, 128, 64 -> [B, H/4, W/4, 64] (the original's
models/center_net_resnet_feature_extractor.py: plain convolutions where the paper has deformable
ones, default initialisers).

Input: after the base class's channel_means/stds (and BGR) normalisation, x / 127.5 - 1 (Keras'
resnet_v2.preprocess_input), as the original.

Checkpoint layout (attributes): `_base_model` (the keras ResNetV2, one nested model),
`_resnet_model` (inputs -> conv5_block3_out, same layers), then lists `reduce_convs`,
`reduce_norms`, `upsample_convs`, `upsample_norms`.
"""

import keras

from object_detection.core.registries import CENTER_NET_FEATURE_EXTRACTORS
from object_detection.models import center_net_decoders
from object_detection.models import center_net_extractors as base

APPLICATIONS = {"resnet_v2_50": keras.applications.ResNet50V2,
                "resnet_v2_101": keras.applications.ResNet101V2}
OUTPUT_LAYER = "conv5_block3_out"


class ResNetV2FeatureExtractor(base.SingleMapFeatureExtractor):
  """keras.applications ResNet v2 + 3 transposed-conv upsamplings: one 64-channel stride-4 map."""

  def __init__(self, resnet_type, **kwargs):
    super().__init__(**kwargs)
    if resnet_type not in APPLICATIONS:
      raise ValueError(f"ResNetV2FeatureExtractor: unknown resnet_type (got {resnet_type!r}; "
                       f"expected one of: {', '.join(APPLICATIONS)})")
    self._base_model = APPLICATIONS[resnet_type](include_top=False, weights=None,
                                                 input_shape=(None, None, 3))
    self._resnet_model = keras.Model(inputs=self._base_model.inputs,
                                     outputs=self._base_model.get_layer(OUTPUT_LAYER).output)
    (self.reduce_convs, self.reduce_norms, self.upsample_convs,
     self.upsample_norms) = center_net_decoders.upsample_stage_layers(reduce_kernel_size=3)

  def preprocess(self, images):
    return super().preprocess(images) / 127.5 - 1.0

  def preprocess_reverse(self, preprocessed):
    return super().preprocess_reverse((preprocessed + 1.0) * 127.5)

  def call(self, inputs, training=False):
    x = self._resnet_model(inputs, training=training)
    return [center_net_decoders.upsample_stages(x, self.reduce_convs, self.reduce_norms,
                                                self.upsample_convs, self.upsample_norms,
                                                training)]


def _register(name):
  @CENTER_NET_FEATURE_EXTRACTORS.register(name)
  def _build(params, is_training):
    del is_training  # batch norm mode is the `training` call argument
    return ResNetV2FeatureExtractor(name, **base.normalization_kwargs(params))
  return _build


for _name in APPLICATIONS:
  _register(_name)
