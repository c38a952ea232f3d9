"""Checkpoints of the original Object Detection API -> this package's models.

  original_checkpoint  read a checkpoint (prefix, directory or zoo layout), split model
                       variables from optimizer state; missing/truncated files named
  object_graph         our model's checkpoint keys, computed from its object graph
  name_map             table-driven rules: our key -> the original's key
  center_net_names     CenterNet and DeepMAC (every extractor and network_type we build)
  rcnn_names           Faster / Mask R-CNN
  converter            plan (names + shapes), report, assign
  diagnosis            the likely cause when a checkpoint does not fit
  restore              restore an original checkpoint into a live model (fine-tune, eval, export)
The command line is object_detection/convert_checkpoint.py.
"""
