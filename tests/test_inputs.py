"""inputs.train_input / eval_input on tiny hand-built TFRecords: static shapes, values, cap."""

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection import inputs
from object_detection.builders import image_resizer_builder
from object_detection.core.fields import InputDataFields as F
from object_detection.data import resizers, synthetic
from object_detection.protos import eval_pb2, input_reader_pb2, model_pb2, train_pb2

MODEL = """center_net { num_classes: 3 image_resizer { keep_aspect_ratio_resizer {
  min_dimension: 32 max_dimension: 32 pad_to_max_dimension: true } } }"""


def _fake_preprocess(model_config):
  """Resize with the model's resizer, then /255 (stands in for a model's preprocess)."""
  resizer = image_resizer_builder.build(model_config.center_net.image_resizer)

  def preprocess(images):
    resized, shapes = resizers.resize_batch(resizer, images)
    return resized / 255.0, shapes
  return preprocess


@pytest.fixture(scope="module")
def record(tmp_path_factory):
  """One TFRecord: 16x32 images; example 0 has 1 box (class text 'b'), 1 has 6 boxes,
  2 has none, 3 has a box with an unknown class text."""
  tmp = tmp_path_factory.mktemp("inputs")
  (tmp / "label_map.txt").write_text('item { id: 1 name: "a" } item { id: 2 name: "b" } '
                                     'item { id: 3 name: "c" }')
  image = np.full([16, 32, 3], 200, np.uint8)
  six = [[0.0, i / 6, 0.5, (i + 1) / 6] for i in range(6)]
  examples = [
      ([[0.0, 0.0, 1.0, 0.5]], ["b"]),
      (six, ["a", "b", "c", "a", "b", "c"]),
      ([], []),
      ([[0.0, 0.0, 1.0, 1.0], [0.0, 0.5, 0.5, 1.0]], ["zebra", "c"]),
  ]
  records = []
  for i, (boxes, texts) in enumerate(examples):
    masks = synthetic.box_masks(boxes, 16, 32)
    records.append(synthetic.make_example(image, boxes, class_texts=texts, masks=masks,
                                          source_id=str(i), is_crowd=[0] * len(boxes),
                                          area=[7.0] * len(boxes)).SerializeToString())
  path = tmp / "data.tfrecord"
  synthetic.write_tfrecord(path, records)
  return tmp


def _configs(record, batch_size=4, extra_train="", max_boxes=4):
  model = text_format.Parse(MODEL, model_pb2.DetectionModel())
  train = text_format.Parse(f"batch_size: {batch_size} {extra_train}", train_pb2.TrainConfig())
  reader = text_format.Parse(
      f"""label_map_path: "{record / 'label_map.txt'}" shuffle: false num_epochs: 1
      load_instance_masks: true mask_type: PNG_MASKS max_number_of_boxes: {max_boxes}
      tf_record_input_reader {{ input_path: "{record / 'data.tfrecord'}" }}""",
      input_reader_pb2.InputReader())
  return train, reader, model


def test_train_input_static_shapes_and_values(record):
  train, reader, model = _configs(record)
  ds = inputs.train_input(train, reader, model, preprocess_fn=_fake_preprocess(model))
  features, labels = ds.element_spec
  assert features[F.image].shape == (4, 32, 32, 3)
  assert labels[F.groundtruth_boxes].shape == (4, 4, 4)
  assert labels[F.groundtruth_classes].shape == (4, 4, 3)
  assert labels[F.groundtruth_instance_masks].shape == (4, 4, 32, 32)
  assert labels[F.groundtruth_instance_masks].dtype == tf.uint8
  for spec in list(features.values()) + list(labels.values()):
    assert spec.shape.is_fully_defined(), spec
  features, labels = next(iter(ds))
  # Example 0: the 16x32 image fills the top half of the padded 32x32 input.
  np.testing.assert_array_equal(features[F.true_image_shape][0].numpy(), [16, 32, 3])
  np.testing.assert_allclose(features[F.image][0, :16].numpy(), 200 / 255.0, rtol=1e-6)
  np.testing.assert_allclose(features[F.image][0, 16:].numpy(), 0.0)
  np.testing.assert_allclose(labels[F.groundtruth_boxes][0, 0].numpy(), [0.0, 0.0, 0.5, 0.5])
  np.testing.assert_allclose(labels[F.groundtruth_boxes][0, 1:].numpy(), 0.0)
  np.testing.assert_array_equal(labels[F.groundtruth_classes][0, 0].numpy(), [0, 1, 0])
  np.testing.assert_array_equal(labels[F.groundtruth_weights][0].numpy(), [1, 0, 0, 0])
  mask = labels[F.groundtruth_instance_masks][0, 0].numpy()
  assert mask[:16, :16].all() and mask.sum() == 256
  # Example 1 has 6 instances: the cap (max_number_of_boxes 4) keeps the first 4.
  np.testing.assert_array_equal(labels[F.num_groundtruth_boxes].numpy(), [1, 4, 0, 1])
  np.testing.assert_allclose(labels[F.groundtruth_boxes][1, :, 3].numpy(),
                             [1 / 6, 2 / 6, 3 / 6, 4 / 6], rtol=1e-6)
  # Example 3: the 'zebra' box (unknown class) is dropped; the 'c' box stays.
  np.testing.assert_array_equal(labels[F.groundtruth_classes][3, 0].numpy(), [0, 0, 1])
  np.testing.assert_allclose(labels[F.groundtruth_boxes][3, 0].numpy(), [0, 0.5, 0.25, 1.0])


def test_cap_comes_from_the_config(record):
  train, reader, model = _configs(record, batch_size=2, max_boxes=6)
  ds = inputs.train_input(train, reader, model, preprocess_fn=_fake_preprocess(model))
  _, labels = next(iter(ds))
  assert labels[F.groundtruth_boxes].shape == (2, 6, 4)
  np.testing.assert_array_equal(labels[F.num_groundtruth_boxes].numpy(), [1, 6])


def test_train_augmentation_is_applied(record):
  train, reader, model = _configs(
      record, batch_size=1,
      extra_train="data_augmentation_options { random_horizontal_flip { probability: 1.0 } }")
  ds = inputs.train_input(train, reader, model, preprocess_fn=_fake_preprocess(model))
  _, labels = next(iter(ds))
  np.testing.assert_allclose(labels[F.groundtruth_boxes][0, 0].numpy(), [0.0, 0.5, 0.5, 1.0])
  assert labels[F.groundtruth_instance_masks][0, 0, :16, 16:].numpy().all()


def test_drop_remainder_and_per_replica_batch(record):
  train, reader, model = _configs(record, batch_size=6)
  context = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0,
                                       num_replicas_in_sync=2)
  ds = inputs.train_input(train, reader, model, preprocess_fn=_fake_preprocess(model),
                          input_context=context)
  batches = [f[F.image].shape[0] for f, _ in ds]
  assert batches == [3]  # 4 examples, per-replica batch 3, remainder dropped


def test_eval_input_keeps_eval_fields(record):
  _, reader, model = _configs(record)
  eval_config = text_format.Parse("batch_size: 2 retain_original_images: true",
                                  eval_pb2.EvalConfig())
  ds = inputs.eval_input(eval_config, reader, model, preprocess_fn=_fake_preprocess(model))
  features, labels = next(iter(ds))
  assert [s.decode() for s in features[F.source_id].numpy()] == ["0", "1"]
  np.testing.assert_array_equal(features[F.original_image_spatial_shape].numpy(),
                                [[16, 32], [16, 32]])
  assert features[F.original_image].dtype == tf.uint8
  assert features[F.original_image].shape == (2, 32, 32, 3)
  assert features[F.original_image][0, 0, 0, 0] == 200
  np.testing.assert_array_equal(labels[F.groundtruth_area][1].numpy(), [7.0] * 4)
  assert labels[F.groundtruth_is_crowd].dtype == tf.bool
  assert features[F.hash].dtype == tf.int64


def test_requires_model_or_preprocess_fn(record):
  train, reader, model = _configs(record)
  with pytest.raises(ValueError, match="preprocess_fn"):
    inputs.train_input(train, reader, model)


def test_nuclei_125_instances_are_capped_as_configured(shared_dir, tmp_path):
  """The 125-nucleus image: the first max_number_of_boxes instances are kept (default 100)."""
  from pycocotools.coco import COCO  # pylint: disable=import-outside-toplevel
  coco = COCO(str(shared_dir / "data" / "nuclei" / "instances.json"))
  info = coco.loadImgs(1)[0]
  anns = coco.loadAnns(coco.getAnnIds(imgIds=1))
  h, w = info["height"], info["width"]
  boxes = [[a["bbox"][1] / h, a["bbox"][0] / w, (a["bbox"][1] + a["bbox"][3]) / h,
            (a["bbox"][0] + a["bbox"][2]) / w] for a in anns]
  masks = np.stack([coco.annToMask(a) for a in anns])
  image = np.asarray(__import__("PIL.Image").Image.open(
      shared_dir / "data" / "nuclei" / "images" / info["file_name"]).convert("RGB"))
  example = synthetic.make_example(image, boxes, class_labels=[1] * len(anns), masks=masks)
  synthetic.write_tfrecord(tmp_path / "nuclei.tfrecord", [example.SerializeToString()])
  model = text_format.Parse(
      "center_net { num_classes: 1 image_resizer { keep_aspect_ratio_resizer { "
      "min_dimension: 64 max_dimension: 64 pad_to_max_dimension: true } } }",
      model_pb2.DetectionModel())
  eval_config = text_format.Parse("batch_size: 1", eval_pb2.EvalConfig())
  for cap, expected in ((None, 100), (128, 125)):
    reader = text_format.Parse(
        f'load_instance_masks: true mask_type: PNG_MASKS shuffle: false num_epochs: 1 '
        f'tf_record_input_reader {{ input_path: "{tmp_path / "nuclei.tfrecord"}" }}',
        input_reader_pb2.InputReader())
    if cap is not None:
      reader.max_number_of_boxes = cap
    ds = inputs.eval_input(eval_config, reader, model, preprocess_fn=_fake_preprocess(model))
    _, labels = next(iter(ds))
    n = cap or 100
    assert int(labels[F.num_groundtruth_boxes][0]) == expected
    assert labels[F.groundtruth_instance_masks].shape == (1, n, 64, 64)
    np.testing.assert_allclose(labels[F.groundtruth_boxes][0, :expected].numpy(),
                               np.asarray(boxes, np.float32)[:expected], atol=1e-6)
    np.testing.assert_array_equal(  # the kept instances' masks, nearest-resized 512 -> 64
        labels[F.groundtruth_instance_masks][0, :expected].numpy(),
        resizers.resize_masks(tf.constant(masks[:expected]), [64, 64]).numpy())


def test_model_preprocess_path_and_seeded_determinism(record):
  train, reader, model_config = _configs(
      record, batch_size=2,
      extra_train="data_augmentation_options { random_adjust_brightness {} } "
                  "data_augmentation_options { random_horizontal_flip {} }")

  class FakeModel:  # anything with the DetectionModel.preprocess signature
    preprocess = staticmethod(_fake_preprocess(model_config))

  def first_batch():
    ds = inputs.train_input(train, reader, model_config, model=FakeModel(), seed=3)
    return next(iter(ds))
  (f1, l1), (f2, l2) = first_batch(), first_batch()
  np.testing.assert_array_equal(f1[F.image].numpy(), f2[F.image].numpy())
  np.testing.assert_array_equal(l1[F.groundtruth_boxes].numpy(), l2[F.groundtruth_boxes].numpy())
  assert not np.allclose(f1[F.image][0, :16].numpy(), 200 / 255.0)  # brightness did change it
