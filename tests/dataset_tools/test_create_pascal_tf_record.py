"""create_pascal_tf_record on a generated 2-image VOC tree (xml + jpg + SegmentationObject png)."""

import os

import numpy as np
import pytest
from PIL import Image

from object_detection.dataset_tools import create_pascal_tf_record

LABEL_MAP = """
item { id: 1 name: 'aeroplane' }
item { id: 12 name: 'dog' }
item { id: 15 name: 'person' }
"""


def _object(name, box, difficult=0, truncated=0, pose="Left"):
  xmin, ymin, xmax, ymax = box
  return (f"<object><name>{name}</name><pose>{pose}</pose><truncated>{truncated}</truncated>"
          f"<difficult>{difficult}</difficult><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
          f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>")


def _xml(filename, width, height, objects):
  return (f"<annotation><folder>VOC2012</folder><filename>{filename}</filename>"
          f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
          f"<segmented>1</segmented>{''.join(objects)}</annotation>")


@pytest.fixture
def voc(tmp_path, helpers):
  root = tmp_path / "VOCdevkit"
  year = root / "VOC2012"
  for sub in ("Annotations", "JPEGImages", "ImageSets/Main", "SegmentationObject"):
    (year / sub).mkdir(parents=True)
  helpers.write_image(str(year / "JPEGImages" / "2012_000001.jpg"), 64, 48, "JPEG", 1)
  helpers.write_image(str(year / "JPEGImages" / "2012_000002.jpg"), 32, 32, "JPEG", 2)
  (year / "Annotations" / "2012_000001.xml").write_text(_xml("2012_000001.jpg", 64, 48, [
      _object("dog", (10, 5, 30, 25)),
      _object("person", (40, 10, 60, 40), difficult=1, truncated=1, pose="Frontal"),
      _object("aeroplane", (0, 30, 20, 48))]))
  (year / "Annotations" / "2012_000002.xml").write_text(
      _xml("2012_000002.jpg", 32, 32, [_object("person", (2, 4, 12, 30))]))
  (year / "ImageSets" / "Main" / "train.txt").write_text("2012_000001\n2012_000002\n")
  # Instance ids follow the xml's object order; 255 is VOC's "void" border.
  ids = np.zeros((48, 64), np.uint8)
  ids[5:25, 10:30] = 1
  ids[10:40, 40:60] = 2
  ids[30:48, 0:20] = 3
  ids[4, 10:30] = 255
  seg = Image.fromarray(ids, mode="P")
  seg.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [0] * (3 * 251) + [224, 224, 192])
  seg.save(year / "SegmentationObject" / "2012_000001.png")
  label_map = tmp_path / "pascal_label_map.pbtxt"
  label_map.write_text(LABEL_MAP)
  return root, ids, label_map


def _run(voc, tmp_path, *extra):
  root, _, label_map = voc
  output = tmp_path / "pascal_train.record"
  code = create_pascal_tf_record.main([f"--data_dir={root}", "--year=VOC2012", "--set=train",
                                       f"--output_path={output}", f"--label_map_path={label_map}",
                                       *extra])
  return code, output


def _values(example, key):
  feature = example.features.feature[key]
  kind = feature.WhichOneof("kind")
  return list(getattr(feature, kind).value) if kind else []


def test_converts_boxes_labels_and_instance_masks(voc, tmp_path, helpers, capsys):
  code, output = _run(voc, tmp_path)
  assert code == 0
  first, second = helpers.parse_records([output])
  assert _values(first, "image/filename") == [b"2012_000001.jpg"]
  assert _values(first, "image/source_id") == [b"2012_000001.jpg"]
  assert _values(first, "image/format") == [b"jpeg"]
  np.testing.assert_allclose(_values(first, "image/object/bbox/xmin"), [10 / 64, 40 / 64, 0], rtol=1e-6)
  np.testing.assert_allclose(_values(first, "image/object/bbox/ymax"), [25 / 48, 40 / 48, 1], rtol=1e-6)
  assert _values(first, "image/object/class/text") == [b"dog", b"person", b"aeroplane"]
  assert _values(first, "image/object/class/label") == [12, 15, 1]
  assert _values(first, "image/object/difficult") == [0, 1, 0]
  assert _values(first, "image/object/truncated") == [0, 1, 0]
  assert _values(first, "image/object/view") == [b"Left", b"Frontal", b"Left"]
  ids = voc[1]
  masks = [helpers.decode_png(p) for p in _values(first, "image/object/mask")]
  for index, mask in enumerate(masks):
    np.testing.assert_array_equal(mask, (ids == index + 1).astype(np.uint8))
  assert masks[0][4, 15] == 0  # the 255 border belongs to no object
  assert "image/object/mask" not in second.features.feature  # no SegmentationObject png
  assert _values(second, "image/object/class/label") == [15]
  assert "wrote 2 images (1 with masks), skipped 0" in capsys.readouterr().err
  assert sorted(os.listdir(tmp_path)) == ["VOCdevkit", "pascal_label_map.pbtxt", "pascal_train.record"]


def test_ignore_difficult_keeps_the_right_masks(voc, tmp_path, helpers):
  code, output = _run(voc, tmp_path, "--ignore_difficult_instances")
  assert code == 0
  first = helpers.parse_records([output])[0]
  assert _values(first, "image/object/class/text") == [b"dog", b"aeroplane"]
  masks = [helpers.decode_png(p) for p in _values(first, "image/object/mask")]
  np.testing.assert_array_equal(masks[1], (voc[1] == 3).astype(np.uint8))  # xml object 3, not 2


def test_unknown_class_and_missing_image_are_reported(voc, tmp_path, helpers, capsys):
  root = voc[0]
  os.remove(root / "VOC2012" / "JPEGImages" / "2012_000002.jpg")
  xml = root / "VOC2012" / "Annotations" / "2012_000001.xml"
  xml.write_text(xml.read_text().replace("<name>aeroplane</name>", "<name>zebra</name>"))
  code, output = _run(voc, tmp_path)
  assert code == 0
  err = capsys.readouterr().err
  assert "object 2 skipped, class not in the label map (got 'zebra'" in err
  assert "2012_000002.jpg: image file not found (image skipped)" in err
  assert "wrote 1 images (1 with masks), skipped 1" in err
  (first,) = helpers.parse_records([output])
  assert _values(first, "image/object/class/text") == [b"dog", b"person"]
  assert len(_values(first, "image/object/mask")) == 2


def test_missing_image_list_is_an_error(voc, tmp_path, capsys):
  code, output = _run(voc, tmp_path, "--set=val")
  assert code == 1
  assert ("no image list for --set=val (expected Main/val.txt or Main/aeroplane_val.txt)"
          in capsys.readouterr().err)
  assert not output.exists()


def test_require_masks_skips_unsegmented_images(voc, tmp_path, helpers, capsys):
  code, output = _run(voc, tmp_path, "--require_masks")
  assert code == 0
  err = capsys.readouterr().err
  assert "2012_000002.xml: no SegmentationObject PNG for this image (--require_masks) (image skipped)" in err
  assert "wrote 1 images (1 with masks), skipped 1" in err
  (first,) = helpers.parse_records([output])
  assert len(_values(first, "image/object/mask")) == 3


def test_require_masks_reads_the_segmentation_list(voc, tmp_path, helpers):
  root = voc[0]
  (root / "VOC2012" / "ImageSets" / "Segmentation").mkdir()
  (root / "VOC2012" / "ImageSets" / "Segmentation" / "train.txt").write_text("2012_000001\n")
  code, output = _run(voc, tmp_path, "--require_masks")
  assert code == 0
  assert len(helpers.parse_records([output])) == 1


def test_missing_label_map_is_an_error(voc, tmp_path, capsys):
  root = voc[0]
  output = tmp_path / "out.record"
  code = create_pascal_tf_record.main([f"--data_dir={root}", "--year=VOC2012",
                                       f"--output_path={output}", f"--label_map_path={tmp_path}/nope.pbtxt"])
  assert code == 1
  assert "nope.pbtxt: cannot read label map" in capsys.readouterr().err
  assert not output.exists()


@pytest.mark.parametrize("old, new, message", [
    ("<xmin>2</xmin>", "<xmin>two</xmin>", "<bndbox> needs numbers xmin, ymin, xmax, ymax"),
    ("<xmin>2</xmin>", "<xmin>nan</xmin>", "<bndbox> values must be finite"),
    ("<xmax>12</xmax>", "<xmax>99</xmax>", "<bndbox> is empty or leaves the 32x32 image (got "
                                           "xmin=2, ymin=4, xmax=99, ymax=30)"),
    ("<xmax>12</xmax>", "<xmax>2</xmax>", "<bndbox> is empty or leaves the 32x32 image"),
    ("<difficult>0</difficult>", "<difficult>maybe</difficult>",
     "<difficult> and <truncated> must be 0 or 1 (got 'maybe', '0')"),
])
def test_bad_object_costs_only_that_object(voc, tmp_path, helpers, capsys, old, new, message):
  xml = voc[0] / "VOC2012" / "Annotations" / "2012_000002.xml"
  xml.write_text(xml.read_text().replace(old, new))
  code, output = _run(voc, tmp_path)
  assert code == 0
  err = capsys.readouterr().err
  assert f"2012_000002.jpg: object 0 skipped, {message}" in err
  records = helpers.parse_records([output])
  assert len(records) == 2  # the image stays, without the bad object
  assert not records[1].features.feature["image/object/bbox/xmin"].float_list.value


@pytest.mark.parametrize("old, new", [("<width>32</width>", "<width>0</width>"),
                                      ("<height>32</height>", "<height>x</height>")])
def test_bad_image_size_costs_only_that_image(voc, tmp_path, helpers, capsys, old, new):
  # A zero size used to divide by zero and end the whole conversion with a traceback.
  xml = voc[0] / "VOC2012" / "Annotations" / "2012_000002.xml"
  xml.write_text(xml.read_text().replace(old, new))
  code, output = _run(voc, tmp_path)
  assert code == 0
  assert "<size> needs integer <width> and <height> > 0" in capsys.readouterr().err
  assert len(helpers.parse_records([output])) == 1
