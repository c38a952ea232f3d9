"""The demo's generated data (the full demo flow is covered by test_end_to_end.py)."""

import numpy as np
import tensorflow as tf

from object_detection import demo
from object_detection.config import loader


def test_shapes_have_consistent_masks_and_classes():
  rng = np.random.default_rng(0)
  for _ in range(5):
    image, masks, classes = demo.make_image(rng)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    assert len(masks) == len(classes) >= 1
    assert set(classes.tolist()) <= {1, 2, 3}
    assert all(m.sum() > 0 for m in masks)
    # visible masks do not overlap (later shapes cover earlier ones)
    assert masks.sum(axis=0).max() == 1


def test_tfrecords_and_config(tmp_path):
  demo.write_dataset(str(tmp_path / "t.tfrecord"), 3, seed=1)
  records = list(tf.data.TFRecordDataset(str(tmp_path / "t.tfrecord")))
  assert len(records) == 3
  ex = tf.train.Example.FromString(records[0].numpy())
  f = ex.features.feature
  n = len(f["image/object/class/label"].int64_list.value)
  assert len(f["image/object/mask"].bytes_list.value) == n
  assert len(f["image/object/bbox/ymin"].float_list.value) == n
  path = demo.make_pipeline_config(str(tmp_path), str(tmp_path / "pipeline.config"))
  pipeline = loader.load_pipeline_config(path)
  assert list(pipeline.model.center_net.deepmac_mask_estimation.allowed_masked_classes_ids) == [1, 2]
  assert pipeline.train_input_reader.tf_record_input_reader.input_path[0].startswith(
      str(tmp_path))
