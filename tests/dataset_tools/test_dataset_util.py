"""dataset_util: feature helpers, example lists, VOC xml to dict, make_tf_example keys."""

import numpy as np
import pytest
import tensorflow as tf
from lxml import etree

from object_detection.dataset_tools import dataset_util


def test_feature_helpers_store_the_values():
  assert list(dataset_util.int64_feature(7).int64_list.value) == [7]
  assert list(dataset_util.int64_list_feature([1, 2, 3]).int64_list.value) == [1, 2, 3]
  assert list(dataset_util.bytes_feature("héllo").bytes_list.value) == ["héllo".encode("utf8")]
  assert list(dataset_util.bytes_list_feature([b"a", "b"]).bytes_list.value) == [b"a", b"b"]
  assert dataset_util.float_feature(0.5).float_list.value[0] == 0.5
  np.testing.assert_allclose(dataset_util.float_list_feature([0.25, 1.5]).float_list.value, [0.25, 1.5])
  assert list(dataset_util.int64_list_feature([]).int64_list.value) == []


def test_bytes_feature_refuses_other_types():
  with pytest.raises(TypeError, match="must be str or bytes \\(got int\\)"):
    dataset_util.bytes_feature(3)


def test_read_examples_list_keeps_the_first_token(tmp_path):
  path = tmp_path / "aeroplane_train.txt"
  path.write_text("2008_000008 -1\n2008_000015  1\n\n2008_000019\n")
  assert dataset_util.read_examples_list(str(path)) == ["2008_000008", "2008_000015", "2008_000019"]


def test_recursive_parse_xml_to_dict_lists_objects():
  xml = etree.fromstring(
      "<annotation><folder>VOC2012</folder><size><width>64</width><height>48</height></size>"
      "<object><name>cat</name><bndbox><xmin>1</xmin></bndbox></object>"
      "<object><name>dog</name></object><segmented/></annotation>")
  data = dataset_util.recursive_parse_xml_to_dict(xml)["annotation"]
  assert data["folder"] == "VOC2012"
  assert data["size"] == {"width": "64", "height": "48"}
  assert data["object"] == [{"name": "cat", "bndbox": {"xmin": "1"}}, {"name": "dog"}]
  assert data["segmented"] == ""
  one = dataset_util.recursive_parse_xml_to_dict(
      etree.fromstring("<annotation><object><name>cat</name></object></annotation>"))
  assert one["annotation"]["object"] == [{"name": "cat"}]


def test_make_tf_example_writes_the_original_keys():
  example = dataset_util.make_tf_example(
      encoded_image=b"jpegbytes", image_format="jpeg", height=48, width=64, filename="a.jpg",
      source_id="1", sha256="ab", boxes=[(0.1, 0.2, 0.3, 0.4)], class_labels=[3],
      class_texts=["cat"], is_crowd=[1], area=[12.5], masks_png=[b"png"])
  feature = example.features.feature
  assert set(feature) == {
      "image/height", "image/width", "image/filename", "image/source_id", "image/key/sha256",
      "image/encoded", "image/format", "image/object/bbox/ymin", "image/object/bbox/xmin",
      "image/object/bbox/ymax", "image/object/bbox/xmax", "image/object/class/label",
      "image/object/class/text", "image/object/is_crowd", "image/object/area", "image/object/mask"}
  assert feature["image/object/bbox/ymin"].float_list.value[0] == pytest.approx(0.1)
  assert feature["image/object/bbox/xmax"].float_list.value[0] == pytest.approx(0.4)
  assert list(feature["image/object/class/label"].int64_list.value) == [3]
  assert list(feature["image/object/class/text"].bytes_list.value) == [b"cat"]
  parsed = tf.io.parse_single_example(example.SerializeToString(), {
      "image/height": tf.io.FixedLenFeature((), tf.int64),
      "image/object/mask": tf.io.VarLenFeature(tf.string)})
  assert int(parsed["image/height"]) == 48
  assert tf.sparse.to_dense(parsed["image/object/mask"]).numpy().tolist() == [b"png"]


def test_make_tf_example_with_zero_boxes_has_empty_lists():
  example = dataset_util.make_tf_example(
      encoded_image=b"x", image_format="png", height=2, width=2, filename="b.png", source_id="2",
      sha256="cd", masks_png=[])
  feature = example.features.feature
  assert len(feature["image/object/bbox/ymin"].float_list.value) == 0
  assert len(feature["image/object/mask"].bytes_list.value) == 0
  assert "image/object/is_crowd" not in feature
