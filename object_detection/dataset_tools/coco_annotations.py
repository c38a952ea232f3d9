"""Loads a COCO instances json and groups annotations per image (no TensorFlow).

Structural problems of the file itself (not json, missing `images`/`categories`) raise `DataError`;
problems of single entries become `Problem`s so that the converter can skip and count them.
"""

import collections
import json

from object_detection.core.errors import DataError
from object_detection.dataset_tools.coco_image_worker import Problem, describe


def load_coco_instances(path):
  """Reads `path` and returns (images, annotations_by_image_id, categories, problems).

  Returns:
    images: list of COCO image dicts, file order, duplicates of an id removed.
    annotations_by_image_id: {image id: [annotation dicts]} (file order).
    categories: {category id: name}.
    problems: list of Problem for duplicate image ids and annotations of unknown images.
  Raises:
    DataError: the file is missing, not json, or lacks `images`/`categories` lists.
  """
  try:
    with open(path, encoding="utf8") as f:
      data = json.load(f)
  except FileNotFoundError as e:
    raise DataError(f"{path}: annotations file not found") from e
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise DataError(f"{path}: not a json file ({e})") from e
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

  categories = {}
  for category in data["categories"]:
    if not isinstance(category, dict) or "id" not in category or "name" not in category:
      raise DataError(f"{path}: category entries need 'id' and 'name' (got {category!r})")
    categories[category["id"]] = str(category["name"])

  problems, images, seen = [], [], set()
  for image in data["images"]:
    if not isinstance(image, dict) or "id" not in image:
      raise DataError(f"{path}: image entries need an 'id' (got {image!r})")
    if image["id"] in seen:
      problems.append(Problem(image["id"], None, "duplicate_image_id", describe(
          path, image, None, "duplicate image id (the first entry with this id is kept)")))
      continue
    seen.add(image["id"])
    images.append(image)

  by_image = collections.defaultdict(list)
  image_by_id = {image["id"]: image for image in images}
  for annotation in annotations:
    if not isinstance(annotation, dict):
      raise DataError(f"{path}: annotation entries must be objects (got {annotation!r})")
    image_id = annotation.get("image_id")
    if image_id not in image_by_id:
      problems.append(Problem(image_id, annotation.get("id"), "unknown_image",
                              f"{path}: annotation {annotation.get('id')!r}: image_id not in 'images' "
                              f"(got {image_id!r})"))
      continue
    by_image[image_id].append(annotation)
  return images, by_image, categories, problems

