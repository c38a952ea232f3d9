"""Label maps: class name <-> 1-based class id (utils/label_map_util.py exports the original's
public names from here).

Sources:
- StringIntLabelMap text files (`item { name: "/m/01g317" id: 1 display_name: "person" }`), or the
  same message serialized in binary;
- COCO category lists: a JSON file (or already-loaded object) that is either a COCO annotation
  file with a "categories" list or the list itself, `[{"id": 1, "name": "person"}, ...]`.

Checks (errors name the file and the item): every item has an id; ids are >= 1, except 0 which is
reserved for an item named "background"; no id and no name appears twice. (The original tolerated
duplicate ids and kept the first; a duplicate is almost always a copy-paste error that silently
drops a class, so it is an error here.)

A category is a dict `{"id": int, "name": str}` (+ "keypoints" {label: id} when the label map has
keypoints); a category index maps id -> category.
"""

import json
import os

from google.protobuf import message as protobuf_message

from object_detection.config.loader import read_bytes
from object_detection.config.text_parse import parse_text
from object_detection.core.errors import ConfigError
from object_detection.protos import string_int_label_map_pb2

BACKGROUND_NAME = "background"


def _describe(index, item):
  parts = [f"item {index}"]
  details = []
  if item.HasField("name"):
    details.append(f'name "{item.name}"')
  if item.HasField("display_name"):
    details.append(f'display_name "{item.display_name}"')
  if item.HasField("id"):
    details.append(f"id {item.id}")
  if details:
    parts.append(f"({', '.join(details)})")
  return " ".join(parts)


def validate_label_map(label_map, source="<label map>"):
  """Raises ConfigError on a missing, out-of-range or duplicate id or a duplicate name."""
  seen_ids = {}
  seen_names = {}
  for index, item in enumerate(label_map.item):
    where = f"{source}: {_describe(index, item)}"
    if not item.HasField("id"):
      raise ConfigError(f"{where}: missing id (expected an integer id >= 1)")
    is_background = BACKGROUND_NAME in (item.name, item.display_name)
    if item.id < 0 or (item.id == 0 and not is_background):
      raise ConfigError(f"{where}: id out of range (got {item.id}; expected >= 1, 0 is reserved "
                        "for \"background\")")
    if item.id in seen_ids:
      first = seen_ids[item.id]
      raise ConfigError(f"{where}: duplicate id {item.id} (also "
                        f"{_describe(first, label_map.item[first])}; expected each id once)")
    seen_ids[item.id] = index
    if item.name:
      if item.name in seen_names:
        first = seen_names[item.name]
        raise ConfigError(f'{where}: duplicate name "{item.name}" (also '
                          f"{_describe(first, label_map.item[first])}; expected each name once)")
      seen_names[item.name] = index


def _label_map_from_categories(categories, source):
  label_map = string_int_label_map_pb2.StringIntLabelMap()
  for index, category in enumerate(categories):
    if not isinstance(category, dict) or "id" not in category or "name" not in category:
      raise ConfigError(f"{source}: category {index}: missing id or name (got {category!r}; "
                        'expected {"id": int, "name": str})')
    try:
      class_id = int(category["id"])
    except (TypeError, ValueError):
      raise ConfigError(f"{source}: category {index}: id is not an integer (got "
                        f"{category['id']!r})") from None
    item = label_map.item.add(id=class_id, name=str(category["name"]))
    item.display_name = str(category.get("display_name", category["name"]))
  return label_map


def _categories_of_json(data, source):
  if isinstance(data, dict):
    if "categories" not in data:
      raise ConfigError(f'{source}: no "categories" in the JSON object (expected a COCO '
                        'annotation file or a list of {"id", "name"})')
    data = data["categories"]
  if not isinstance(data, list):
    raise ConfigError(f"{source}: categories are not a list (got {type(data).__name__})")
  return data


def load_labelmap(path):
  """Loads and checks a label map file (text or binary StringIntLabelMap, or COCO JSON).

  Args:
    path: label map file.

  Returns:
    StringIntLabelMap.

  Raises:
    ConfigError: unreadable file (path + OS reason), syntax error (path:line:col) or an invalid
      item (see validate_label_map).
  """
  path = os.fspath(path)
  data = read_bytes(path, "label map")
  if path.lower().endswith(".json"):
    try:
      parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
      raise ConfigError(f"{path}: not valid JSON ({e})") from e
    label_map = _label_map_from_categories(_categories_of_json(parsed, path), path)
  else:
    label_map = string_int_label_map_pb2.StringIntLabelMap()
    try:
      parse_text(data, label_map, path)
    except ConfigError as text_error:
      binary = string_int_label_map_pb2.StringIntLabelMap()
      try:
        binary.ParseFromString(data)
      except (protobuf_message.DecodeError, RuntimeError):
        raise text_error from None
      if not binary.item:
        raise text_error from None
      label_map = binary
  validate_label_map(label_map, path)
  return label_map


def _as_label_map(label_map_path_or_proto):
  if isinstance(label_map_path_or_proto, string_int_label_map_pb2.StringIntLabelMap):
    validate_label_map(label_map_path_or_proto)
    return label_map_path_or_proto
  return load_labelmap(label_map_path_or_proto)


def get_max_label_map_index(label_map):
  """Largest id of a StringIntLabelMap (0 when empty)."""
  return max((item.id for item in label_map.item), default=0)


def get_label_map_dict(label_map_path_or_proto, use_display_name=False,
                       fill_in_gaps_and_background=False):
  """{name (or display_name): id}.

  Args:
    label_map_path_or_proto: file path or StringIntLabelMap.
    use_display_name: key by display_name instead of name.
    fill_in_gaps_and_background: add "background": 0 and "<id>": id for every id missing in
      1..max_id (so the values cover 0..max_id), as the original does.
  """
  label_map = _as_label_map(label_map_path_or_proto)
  result = {}
  for item in label_map.item:
    result[item.display_name if use_display_name else item.name] = item.id
  if fill_in_gaps_and_background:
    present = set(result.values())
    if 0 not in present:
      result[BACKGROUND_NAME] = 0
    for class_id in range(1, get_max_label_map_index(label_map) + 1):
      if class_id not in present:
        result[str(class_id)] = class_id
  return result


def convert_label_map_to_categories(label_map, max_num_classes, use_display_name=True):
  """Categories with ids in 1..max_num_classes, in label-map order.

  Args:
    label_map: StringIntLabelMap, or None for generic categories "category_1".."category_N".
    max_num_classes: largest id kept.
    use_display_name: name categories by display_name when it is set (else by name).

  Returns:
    list of {"id", "name"} dicts (+ "keypoints" when the item has keypoints).
  """
  if label_map is None:
    return [{"id": i, "name": f"category_{i}"} for i in range(1, max_num_classes + 1)]
  categories = []
  for item in label_map.item:
    if not 0 < item.id <= max_num_classes:
      continue
    name = item.display_name if use_display_name and item.HasField("display_name") else item.name
    category = {"id": item.id, "name": name}
    if item.keypoints:
      category["keypoints"] = {kp.label: kp.id for kp in item.keypoints}
    categories.append(category)
  return categories


def create_categories_from_labelmap(label_map_path, use_display_name=True):
  """All categories of a label map file."""
  label_map = load_labelmap(label_map_path)
  return convert_label_map_to_categories(label_map, get_max_label_map_index(label_map),
                                         use_display_name)


def create_category_index(categories):
  """{id: category} from a list of categories."""
  return {category["id"]: category for category in categories}


def create_category_index_from_labelmap(label_map_path, use_display_name=True):
  """{id: {"id", "name"}} of a label map file."""
  return create_category_index(create_categories_from_labelmap(label_map_path, use_display_name))


def create_class_agnostic_category_index():
  """{1: {"id": 1, "name": "object"}}."""
  return {1: {"id": 1, "name": "object"}}


def create_categories_from_coco_json(coco_json, source=None):
  """Categories of a COCO annotation file (or its "categories" list), checked like a label map.

  Args:
    coco_json: path of a JSON file, or the loaded object (dict with "categories", or the list).
    source: name used in errors when coco_json is not a path.

  Returns:
    list of {"id", "name"} (+ "supercategory" when present), in file order.
  """
  if isinstance(coco_json, (str, os.PathLike)):
    source = os.fspath(coco_json)
    data = read_bytes(source, "COCO JSON")
    try:
      coco_json = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
      raise ConfigError(f"{source}: not valid JSON ({e})") from e
  source = source or "<COCO categories>"
  raw = _categories_of_json(coco_json, source)
  validate_label_map(_label_map_from_categories(raw, source), source)
  categories = []
  for category in raw:
    entry = {"id": int(category["id"]), "name": str(category["name"])}
    if "supercategory" in category:
      entry["supercategory"] = category["supercategory"]
    categories.append(entry)
  return categories
