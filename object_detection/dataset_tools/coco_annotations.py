"""Loads a COCO instances json and groups annotations per image (no TensorFlow).

Structural problems of the file itself (not json, no `images`/`categories` lists) raise
`DataError`; a malformed entry (a category, an image record, an annotation) becomes a `Problem`
so that the converter skips and counts it: one bad value never costs the split.
"""

import collections
import json

from object_detection.core.errors import DataError
from object_detection.dataset_tools.coco_image_worker import Problem, describe, is_int
from object_detection.dataset_tools.coco_masks import short_repr


def load_coco_instances(path):
  """Reads `path` and returns (images, annotations_by_image_id, categories, problems).

  Returns:
    images: list of COCO image dicts with an integer `id`, file order, duplicates removed.
    annotations_by_image_id: {image id: [annotation dicts]} (file order).
    categories: {category id (int): name (str)}, the first entry of a duplicated id.
    problems: list of Problem (reasons: bad_category, duplicate_category_id, bad_image_record,
      duplicate_image_id, bad_annotation_record, unknown_image).
  Raises:
    DataError: the file is missing, not json, or lacks `images`/`categories` lists.
  """
  try:
    with open(path, encoding="utf8") as f:
      data = json.load(f)
  except FileNotFoundError as e:
    raise DataError(f"{path}: annotations file not found") from e
  except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
    raise DataError(f"{path}: not a json file ({type(e).__name__}: {e})") from e
  if not isinstance(data, dict):
    raise DataError(f"{path}: top level must be an object (got {type(data).__name__}; expected "
                    "{'images': [...], 'annotations': [...], 'categories': [...]})")
  for key in ("images", "categories"):
    if not isinstance(data.get(key), list):
      raise DataError(f"{path}: missing '{key}' list (got {type(data.get(key)).__name__}; "
                      "expected a COCO instances file)")
  annotations = data.get("annotations", [])  # image_info_test-dev files have none
  if not isinstance(annotations, list):
    raise DataError(f"{path}: 'annotations' must be a list (got {type(annotations).__name__})")

  problems = []
  categories = _load_categories(path, data["categories"], problems)
  images, seen = [], set()
  for index, image in enumerate(data["images"]):
    if not isinstance(image, dict) or not is_int(image.get("id")):
      got = image.get("id") if isinstance(image, dict) else image
      problems.append(Problem(None, None, "bad_image_record",
                              f"{path}: images[{index}]: image id is not an integer (got "
                              f"{short_repr(got)})"))
      continue
    if image["id"] in seen:
      problems.append(Problem(image["id"], None, "duplicate_image_id", describe(
          path, image, None, "duplicate image id (the first entry with this id is kept)")))
      continue
    seen.add(image["id"])
    images.append(image)

  by_image = collections.defaultdict(list)
  for index, annotation in enumerate(annotations):
    if not isinstance(annotation, dict):
      problems.append(Problem(None, None, "bad_annotation_record",
                              f"{path}: annotations[{index}]: not an object (got "
                              f"{short_repr(annotation)})"))
      continue
    image_id, ann_id = annotation.get("image_id"), annotation.get("id")
    if not is_int(image_id):
      problems.append(Problem(None, ann_id, "bad_annotation_record",
                              f"{path}: annotation {short_repr(ann_id)}: image_id is not an integer "
                              f"(got {short_repr(image_id)})"))
      continue
    if image_id not in seen:
      problems.append(Problem(image_id, ann_id, "unknown_image",
                              f"{path}: annotation {short_repr(ann_id)}: image_id not in 'images' "
                              f"(got {image_id!r})"))
      continue
    by_image[image_id].append(annotation)
  return images, by_image, categories, problems


def _load_categories(path, entries, problems):
  """{id: name} of the well-formed `categories` entries; the others become Problems."""
  categories = {}
  for index, category in enumerate(entries):
    category_id = category.get("id") if isinstance(category, dict) else None
    name = category.get("name") if isinstance(category, dict) else None
    if not (is_int(category_id) and (isinstance(name, str) or is_int(name))):
      problems.append(Problem(None, None, "bad_category",
                              f"{path}: categories[{index}]: needs an integer 'id' and a "
                              f"'name' string (got {short_repr(category)}); annotations of this category "
                              "are skipped as unknown_category"))
    elif category_id in categories:
      problems.append(Problem(None, None, "duplicate_category_id",
                              f"{path}: categories[{index}]: duplicate category id {category_id} "
                              f"(the first entry, {categories[category_id]!r}, is kept)"))
    else:
      categories[category_id] = str(name)
  return categories
