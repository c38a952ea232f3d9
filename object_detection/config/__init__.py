"""Pipeline config loading: text format with file:line errors, overrides, aliases, validation.

Public entry points (the original's names live in `object_detection.utils.config_util`):
  load_pipeline_config(path, config_override=None, overrides=None) -> TrainEvalPipelineConfig
  save_pipeline_config(pipeline, directory) -> path of directory/pipeline.config
  parse_text(text, message, source) -> message
  apply_overrides(pipeline, ["train_config.batch_size=8", ...])
  validate(pipeline)
"""

from object_detection.config.loader import load_pipeline_config, save_pipeline_config
from object_detection.config.overrides import apply_overrides, merge_text_override
from object_detection.config.text_parse import parse_text, to_text
from object_detection.config.validation import validate
