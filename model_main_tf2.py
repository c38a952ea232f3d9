"""Top-level door: `python model_main_tf2.py ...` (see object_detection/model_main_tf2.py)."""

from object_detection.model_main_tf2 import run

if __name__ == "__main__":
  run()
