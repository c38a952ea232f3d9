"""Top-level door: `python exporter_main_v2.py ...` (see object_detection/exporter_main_v2.py)."""

from object_detection.exporter_main_v2 import run

if __name__ == "__main__":
  run()
