"""Label maps: text files, COCO category lists, and the errors for bad items."""

import json

import pytest

from object_detection.core.errors import ConfigError
from object_detection.protos import string_int_label_map_pb2
from object_detection.utils import label_map_util

LABEL_MAP = """\
item { name: "/m/01g317" id: 1 display_name: "person" }
item {
  name: "/m/0199g"
  id: 2
  display_name: "bicycle"
}
item { name: "/m/0k4j" id: 4 display_name: "car"
  keypoints { id: 0 label: "front" } }
"""


@pytest.fixture
def label_map_path(tmp_path):
  path = tmp_path / "label_map.pbtxt"
  path.write_text(LABEL_MAP)
  return path


def _write(tmp_path, text, name="map.pbtxt"):
  path = tmp_path / name
  path.write_text(text)
  return path


def test_load_and_dicts(label_map_path):
  label_map = label_map_util.load_labelmap(str(label_map_path))
  assert [item.id for item in label_map.item] == [1, 2, 4]
  assert label_map_util.get_label_map_dict(str(label_map_path)) == {
      "/m/01g317": 1, "/m/0199g": 2, "/m/0k4j": 4}
  assert label_map_util.get_label_map_dict(label_map, use_display_name=True) == {
      "person": 1, "bicycle": 2, "car": 4}
  filled = label_map_util.get_label_map_dict(label_map, use_display_name=True,
                                             fill_in_gaps_and_background=True)
  assert filled == {"person": 1, "bicycle": 2, "car": 4, "background": 0, "3": 3}


def test_category_index(label_map_path):
  index = label_map_util.create_category_index_from_labelmap(str(label_map_path))
  assert index == {1: {"id": 1, "name": "person"}, 2: {"id": 2, "name": "bicycle"},
                   4: {"id": 4, "name": "car", "keypoints": {"front": 0}}}
  by_name = label_map_util.create_category_index_from_labelmap(str(label_map_path),
                                                               use_display_name=False)
  assert by_name[1]["name"] == "/m/01g317"


def test_convert_with_max_classes_and_none():
  label_map = string_int_label_map_pb2.StringIntLabelMap()
  label_map.item.add(name="a", id=1)
  label_map.item.add(name="b", id=3)
  assert label_map_util.convert_label_map_to_categories(label_map, max_num_classes=2) == [
      {"id": 1, "name": "a"}]
  assert label_map_util.convert_label_map_to_categories(None, max_num_classes=2) == [
      {"id": 1, "name": "category_1"}, {"id": 2, "name": "category_2"}]
  assert label_map_util.get_max_label_map_index(label_map) == 3
  assert label_map_util.create_class_agnostic_category_index() == {1: {"id": 1, "name": "object"}}


def test_background_zero_allowed(tmp_path):
  path = _write(tmp_path, 'item { name: "background" id: 0 } item { name: "cat" id: 1 }')
  assert label_map_util.get_label_map_dict(str(path)) == {"background": 0, "cat": 1}


@pytest.mark.parametrize("text, problem", [
    ('item { name: "a" id: 1 }\nitem { name: "b" id: 1 }',
     'item 1 (name "b", id 1): duplicate id 1 (also item 0 (name "a", id 1); expected each id '
     'once)'),
    ('item { name: "a" id: 1 }\nitem { name: "a" id: 2 }',
     'item 1 (name "a", id 2): duplicate name "a" (also item 0 (name "a", id 1); expected each '
     'name once)'),
    ('item { name: "a" display_name: "A" }',
     'item 0 (name "a", display_name "A"): missing id (expected an integer id >= 1)'),
    ('item { name: "a" id: 0 }',
     'item 0 (name "a", id 0): id out of range (got 0; expected >= 1, 0 is reserved for '
     '"background")'),
    ('item { name: "a" id: -2 }',
     'item 0 (name "a", id -2): id out of range (got -2; expected >= 1, 0 is reserved for '
     '"background")'),
])
def test_bad_items_name_file_and_item(tmp_path, text, problem):
  path = _write(tmp_path, text)
  with pytest.raises(ConfigError) as info:
    label_map_util.load_labelmap(str(path))
  assert str(info.value) == f"{path}: {problem}"


def test_syntax_error_and_unreadable(tmp_path):
  path = _write(tmp_path, 'item { name: "a" idd: 1 }')
  with pytest.raises(ConfigError) as info:
    label_map_util.load_labelmap(str(path))
  assert str(info.value) == (
      f'{path}:1:18: no field "idd" in StringIntLabelMapItem (did you mean "id"?)')
  missing = tmp_path / "missing.pbtxt"
  with pytest.raises(ConfigError) as info:
    label_map_util.load_labelmap(str(missing))
  assert str(info.value) == f"{missing}: cannot read label map (No such file or directory)"


def test_binary_label_map(tmp_path):
  label_map = string_int_label_map_pb2.StringIntLabelMap()
  label_map.item.add(name="dog", id=2)
  path = tmp_path / "map.pb"
  path.write_bytes(label_map.SerializeToString())
  assert label_map_util.get_label_map_dict(str(path)) == {"dog": 2}


def test_coco_categories(tmp_path):
  coco = {"images": [], "annotations": [],
          "categories": [{"id": 1, "name": "person", "supercategory": "person"},
                         {"id": 3, "name": "car", "supercategory": "vehicle"}]}
  path = tmp_path / "instances.json"
  path.write_text(json.dumps(coco))
  assert label_map_util.create_categories_from_coco_json(str(path)) == [
      {"id": 1, "name": "person", "supercategory": "person"},
      {"id": 3, "name": "car", "supercategory": "vehicle"}]
  assert label_map_util.create_categories_from_coco_json(coco["categories"]) == [
      {"id": 1, "name": "person", "supercategory": "person"},
      {"id": 3, "name": "car", "supercategory": "vehicle"}]
  # A COCO JSON file also works wherever a label map path is accepted.
  assert label_map_util.create_category_index_from_labelmap(str(path)) == {
      1: {"id": 1, "name": "person"}, 3: {"id": 3, "name": "car"}}


def test_coco_duplicate_id(tmp_path):
  categories = [{"id": 1, "name": "person"}, {"id": 1, "name": "rider"}]
  with pytest.raises(ConfigError) as info:
    label_map_util.create_categories_from_coco_json(categories, source="cats.json")
  assert str(info.value) == (
      'cats.json: item 1 (name "rider", display_name "rider", id 1): duplicate id 1 (also item 0 '
      '(name "person", display_name "person", id 1); expected each id once)')


def test_coco_missing_fields(tmp_path):
  with pytest.raises(ConfigError) as info:
    label_map_util.create_categories_from_coco_json([{"name": "x"}], source="cats.json")
  assert str(info.value) == ("cats.json: category 0: missing id or name (got {'name': 'x'}; "
                             'expected {"id": int, "name": str})')
