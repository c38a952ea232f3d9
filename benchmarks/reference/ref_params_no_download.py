"""Parameter counts of the ORIGINAL for configs whose backbone asks for ImageNet weights.

The original's MobileNetV2 extractors call keras.applications.MobileNetV2(weights='imagenet'),
which needs a download; this runs the reference harness's ref_params.py with that forced to
weights=None (parameter counts do not depend on the weights). Run it in the harness's venv, never
in the project's (it measures the original; it is not part of the package):

  (source ../shared/reference/harness/env.sh && \
   python benchmarks/reference/ref_params_no_download.py $REF_TOOLS/ref_params.py \
     configs/tf2/centernet_mobilenetv2fpn_512x512_coco17_od.config ...)

It prints ref_params.py's JSON: {config: {"trainable": n, "all": n}}; the numbers are pinned in
tests/models/test_center_net_mobile_extractors.py.
"""
import runpy
import sys

import tensorflow as tf

tf.compat.v1.keras.applications.MobileNetV2  # pylint: disable=pointless-statement  (loads the API)
_ORIGINAL = tf.compat.v1.keras.applications.MobileNetV2


def _without_download(*args, **kwargs):
  kwargs["weights"] = None
  return _ORIGINAL(*args, **kwargs)


for module in list(sys.modules.values()):
  if getattr(module, "MobileNetV2", None) is _ORIGINAL:
    setattr(module, "MobileNetV2", _without_download)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
