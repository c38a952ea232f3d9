"""Data: TFRecord decoding, augmentations, image resizers (the input pipeline is ../inputs.py).

  decoder.py    TfExampleDecoder: tf.train.Example (original keys) -> tensor dict
  record_files.py   input files checked at start; records read with their file and index
  record_guard.py   bad records skipped, logged with file and index, counted (or strict)
  resizers.py   keep_aspect_ratio / fixed_shape / identity / pad_to_multiple / conditional resizers
  augment/      PreprocessingStep ops (flips, color, crops, pads, scale, jitter)
  instances.py  per-instance fields kept consistent when instances are dropped
  synthetic.py  small tf.train.Examples for tests and benchmarks
"""
