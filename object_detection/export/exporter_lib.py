"""Exports a trained checkpoint as a SavedModel (the original's export_inference_graph).

Layout of `output_directory` (as the original):
  checkpoint/ckpt-0.*   the model's weights (tf.train.Checkpoint(model=...))
  saved_model/          signatures `serving_default` (input_type) and, for models with
                        `predict_masks_from_boxes`, `image_and_boxes`
  pipeline.config       the pipeline used
With `train_config.optimizer.use_moving_average` and averages in the checkpoint, the averaged
weights are exported (the original exports raw weights; averages are what eval reports).
"""

import os

import tensorflow as tf

from object_detection.core import precision
from object_detection.export import signatures
from object_detection.training import checkpoints
from object_detection.training import moving_average as ema_lib


def _has_moving_average(checkpoint_path):
  return any(name.startswith("moving_average/")
             for name, _ in tf.train.list_variables(checkpoint_path))


def restore_model(model, trained_checkpoint_dir, use_moving_average=False):
  """Builds `model`'s variables (DetectionModel.build_variables) and restores them from the
  latest checkpoint.

  Returns the checkpoint path used.
  """
  path = checkpoints.checkpoint_prefix(trained_checkpoint_dir, "--trained_checkpoint_dir")
  model.build_variables()
  average = None
  if use_moving_average and _has_moving_average(path):
    average = ema_lib.MovingAverage(model.trainable_variables, 0.9999)
  checkpoints.restore_for_eval(model, path, average)
  if average is not None:
    average.assign_to_model()
  return path


def export_model(model, output_directory, input_type="image_tensor", pipeline_config=None):
  """Writes checkpoint/, saved_model/ and pipeline.config for an already restored `model`.

  A model under the mixed bfloat16 policy is exported with bfloat16 kernels
  (precision.bfloat16_weights, in place: use `model` for inference only afterwards); its
  checkpoint/ keeps the float32 weights.
  """
  from object_detection.config import loader  # pylint: disable=import-outside-toplevel
  os.makedirs(output_directory, exist_ok=True)
  if not model.variables:
    model.build_variables()
  # The float32 checkpoint first: a bfloat16 export then holds its weights in bfloat16.
  tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                             os.path.join(output_directory, "checkpoint"),
                             max_to_keep=1).save(checkpoint_number=0)
  if precision.compute_dtype(model) == "bfloat16":
    precision.bfloat16_weights(model)
  module = signatures.DetectionModule(model)
  serving = module.serving_fn(input_type)
  # `detect_fn = tf.saved_model.load(path); detect_fn(input_tensor)`, as the original's tutorials.
  module.__call__ = serving
  sigs = {"serving_default": serving.get_concrete_function()}
  if module.has_box_prompts():
    sigs["image_and_boxes"] = module.image_and_boxes_fn().get_concrete_function()
  module.track_variables()
  tf.saved_model.save(module, os.path.join(output_directory, "saved_model"), signatures=sigs)
  if pipeline_config is not None:
    loader.save_pipeline_config(pipeline_config, output_directory)
  return sorted(sigs)


def export_inference_graph(input_type, pipeline_config, trained_checkpoint_dir,
                           output_directory, use_bfloat16=False):
  """Builds the model from `pipeline_config`, restores the latest checkpoint and exports it.

  use_bfloat16: the exported graph computes in bfloat16 with bfloat16 kernels (batch norm and
  outputs float32; checkpoint/ stays float32); recorded in the SavedModel (`compute_dtype`). The
  original always exports float32.
  """
  from object_detection.builders import model_builder  # pylint: disable=import-outside-toplevel
  from object_detection.builders import train_builder  # pylint: disable=import-outside-toplevel
  model = model_builder.build(pipeline_config.model, is_training=False)
  settings = train_builder.train_settings(pipeline_config.train_config)
  restore_model(model, trained_checkpoint_dir, use_moving_average=settings.use_moving_average)
  precision.apply(model, precision.policy_for(use_bfloat16))
  return export_model(model, output_directory, input_type, pipeline_config)
