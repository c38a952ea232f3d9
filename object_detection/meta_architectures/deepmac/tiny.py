"""A tiny DeepMAC model (single-stack hourglass_10 backbone) for tests, demos and experiments.

    model = build_tiny_deepmac(num_classes=3, network_type="resnet4", num_init_channels=4,
                               dim=4, pixel_embedding_dim=4, mask_size=8, backbone_channels=8)

Built from parts directly (no config); the identity resizer keeps the input size, which must be
a multiple of 8 (stride 4 x one hourglass stage). Keyword arguments beyond the ones named below
go to DeepMACTask.
"""

from object_detection.core import registries
from object_detection.data import resizers
from object_detection.meta_architectures.center_net import box_task
from object_detection.meta_architectures.center_net import object_center_task
from object_detection.meta_architectures.deepmac import mask_networks
from object_detection.meta_architectures.deepmac import meta_arch
from object_detection.meta_architectures.deepmac import task as task_lib
from object_detection.models import center_net_extractors
from object_detection.models import hourglass_network


def build_tiny_deepmac(num_classes, network_type="resnet4", num_init_channels=8,
                       use_instance_embedding=True, backbone_channels=8, head_filters=16,
                       max_box_predictions=10, **task_kwargs):
  """DeepMACMetaArch with hourglass_10(backbone_channels), small CenterNet heads, identity resizer.

  Inputs are raw RGB [0, 255], normalized by mean 128 / std 64.
  """
  extractor = center_net_extractors.HourglassFeatureExtractor(
      hourglass_network.hourglass_10(backbone_channels), channel_means=(128.0,) * 3,
      channel_stds=(64.0,) * 3)
  center = object_center_task.ObjectCenterTask(
      num_classes, 1, object_center_task.ObjectCenterParams(
          num_filters=(head_filters,), max_box_predictions=max_box_predictions))
  box = box_task.BoxTask(1, box_task.BoxParams(scale_num_filters=(head_filters,),
                                               offset_num_filters=(head_filters,)))
  mask_net = mask_networks.MaskHeadNetwork(
      registries.DEEPMAC_MASK_NETWORKS.get(network_type), num_init_channels,
      task_kwargs.get("mask_size", 32), use_instance_embedding)
  mask = task_lib.DeepMACTask(num_classes, 1, mask_net, **task_kwargs)
  return meta_arch.DeepMACMetaArch(num_classes, extractor, resizers.identity_resize,
                                   [center, box, mask])
