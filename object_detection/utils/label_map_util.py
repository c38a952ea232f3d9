"""The original Object Detection API's label map helpers, as doors into `object_detection.config`.

Users' scripts import these names; label maps are read and checked by config/label_map.py.
"""

from object_detection.config.label_map import (  # noqa: F401
    BACKGROUND_NAME, convert_label_map_to_categories, create_categories_from_coco_json,
    create_categories_from_labelmap, create_category_index, create_category_index_from_labelmap,
    create_class_agnostic_category_index, get_label_map_dict, get_max_label_map_index,
    load_labelmap, validate_label_map)
