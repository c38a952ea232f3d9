"""TfExampleDecoder: PNG vs numerical masks, zero boxes, label-map classes, defaults."""

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core.fields import InputDataFields as F
from object_detection.data import decoder as decoder_lib
from object_detection.data import synthetic

BOXES = [[0.0, 0.0, 0.5, 0.5], [0.25, 0.5, 1.0, 1.0]]


def _image(h=16, w=20):
  return (np.arange(h * w * 3) % 251).astype(np.uint8).reshape([h, w, 3])


@pytest.fixture(scope="module")
def label_map_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("lm") / "label_map.txt"
  path.write_text('item { id: 1 name: "/m/cat" display_name: "cat" }\n'
                  'item { id: 3 name: "dog" }\n')
  return str(path)


def test_png_and_numerical_masks_decode_identically():
  image = _image()
  masks = synthetic.box_masks(BOXES, 16, 20)
  png = synthetic.make_example(image, BOXES, class_labels=[1, 2], masks=masks,
                               mask_type="PNG_MASKS").SerializeToString()
  num = synthetic.make_example(image, BOXES, class_labels=[1, 2], masks=masks,
                               mask_type="NUMERICAL_MASKS").SerializeToString()
  png_dec = decoder_lib.TfExampleDecoder(True, "PNG_MASKS")
  num_dec = decoder_lib.TfExampleDecoder(True, decoder_lib.NUMERICAL_MASKS)
  a, b = png_dec.decode(png), num_dec.decode(num)
  for key in (F.groundtruth_instance_masks, F.groundtruth_boxes, F.groundtruth_classes):
    assert a[key].dtype == b[key].dtype
    np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
  np.testing.assert_array_equal(a[F.groundtruth_instance_masks].numpy(), masks)
  assert a[F.groundtruth_instance_masks].dtype == tf.uint8
  np.testing.assert_array_equal(a[F.image].numpy(), image)
  np.testing.assert_array_equal(a[F.original_image_spatial_shape].numpy(), [16, 20])
  # Same inside tf.data.
  ds_a = tf.data.Dataset.from_tensors(png).map(png_dec.decode)
  ds_b = tf.data.Dataset.from_tensors(num).map(num_dec.decode)
  for x, y in zip(ds_a, ds_b):
    np.testing.assert_array_equal(x[F.groundtruth_instance_masks].numpy(),
                                  y[F.groundtruth_instance_masks].numpy())


@pytest.mark.parametrize("mask_type", ["PNG_MASKS", "NUMERICAL_MASKS"])
def test_zero_boxes(mask_type):
  example = synthetic.make_example(_image(), [], class_labels=[], masks=np.zeros([0, 16, 20]),
                                   mask_type=mask_type).SerializeToString()
  dec = decoder_lib.TfExampleDecoder(True, mask_type)
  for out in (dec.decode(example),
              next(iter(tf.data.Dataset.from_tensors(example).map(dec.decode)))):
    assert out[F.groundtruth_boxes].shape == (0, 4)
    assert out[F.groundtruth_classes].shape == (0,)
    assert out[F.groundtruth_instance_masks].shape == (0, 16, 20)
    assert out[F.groundtruth_weights].shape == (0,)


def test_text_classes_through_label_map(label_map_file):
  # Records written by the original's create_coco_tf_record have class/text only.
  example = synthetic.make_example(_image(), BOXES + [[0, 0, 1, 1]],
                                   class_texts=["cat", "dog", "zebra"]).SerializeToString()
  dec = decoder_lib.TfExampleDecoder(label_map_proto_file=label_map_file)
  out = dec.decode(example)
  # "cat" is a display_name (id 1), "dog" a name (id 3), "zebra" unknown (-1).
  np.testing.assert_array_equal(out[F.groundtruth_classes].numpy(), [1, 3, -1])
  out = next(iter(tf.data.Dataset.from_tensors(example).map(dec.decode)))
  np.testing.assert_array_equal(out[F.groundtruth_classes].numpy(), [1, 3, -1])


def test_label_backoff_when_no_text(label_map_file):
  example = synthetic.make_example(_image(), BOXES, class_labels=[7, 2]).SerializeToString()
  out = decoder_lib.TfExampleDecoder(label_map_proto_file=label_map_file).decode(example)
  np.testing.assert_array_equal(out[F.groundtruth_classes].numpy(), [7, 2])


def test_text_only_records_without_label_map_fail_clearly():
  example = synthetic.make_example(_image(), BOXES, class_texts=["cat", "dog"]).SerializeToString()
  with pytest.raises(tf.errors.InvalidArgumentError, match="label_map_path"):
    decoder_lib.TfExampleDecoder().decode(example)


def test_defaults_and_optional_fields():
  example = synthetic.make_example(_image(), BOXES, class_labels=[1, 2], source_id="42",
                                   is_crowd=[0, 1], area=[5.0, 6.0]).SerializeToString()
  out = decoder_lib.TfExampleDecoder().decode(example)
  np.testing.assert_array_equal(out[F.groundtruth_weights].numpy(), [1.0, 1.0])
  np.testing.assert_array_equal(out[F.groundtruth_is_crowd].numpy(), [False, True])
  np.testing.assert_array_equal(out[F.groundtruth_area].numpy(), [5.0, 6.0])
  assert out[F.source_id].numpy() == b"42"
  # Without area, the box area in pixels of the image (16 x 20).
  example = synthetic.make_example(_image(), BOXES, class_labels=[1, 2]).SerializeToString()
  out = decoder_lib.TfExampleDecoder().decode(example)
  np.testing.assert_allclose(out[F.groundtruth_area].numpy(), [8 * 10, 12 * 10])
  np.testing.assert_array_equal(out[F.groundtruth_is_crowd].numpy(), [False, False])


def test_jpeg_image_decodes():
  example = synthetic.make_example(_image(), BOXES, class_labels=[1, 2],
                                   image_format="jpeg").SerializeToString()
  out = decoder_lib.TfExampleDecoder().decode(example)
  assert out[F.image].shape == (16, 20, 3) and out[F.image].dtype == tf.uint8


def test_bad_mask_type():
  with pytest.raises(Exception, match="mask_type"):
    decoder_lib.TfExampleDecoder(True, "RLE")
