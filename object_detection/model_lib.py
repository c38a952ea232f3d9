"""Pipeline config -> train / eval runs (the original's model_lib_v2.train_loop/eval_continuously).

It sits above training/ and eval/: the builders turn the configs into built parts (model,
optimizer, datasets, evaluators) and plain settings, which this module hands to
`train_loop.train` and `eval_loop.evaluate` / `eval_loop.eval_continuously`. It reads no config
field itself.
"""

import dataclasses
import logging
import os

import tensorflow as tf

from object_detection import inputs
from object_detection.builders import eval_builder
from object_detection.builders import model_builder
from object_detection.builders import optimizer_builder
from object_detection.builders import train_builder
from object_detection.config import loader
from object_detection.core import precision
from object_detection.eval import best_checkpoint
from object_detection.eval import eval_loop
from object_detection.eval import visualize
from object_detection.training import checkpoints
from object_detection.training import moving_average as ema_lib
from object_detection.training import train_loop
from object_detection.utils import config_util

log = logging.getLogger(__name__)


def load_configs(pipeline_config_path, config_override=None, overrides=None):
  """-> (pipeline proto, configs dict of config_util)."""
  pipeline = loader.load_pipeline_config(pipeline_config_path, config_override=config_override,
                                         overrides=overrides)
  return pipeline, config_util.create_configs_from_pipeline_proto(pipeline)


def run_training(pipeline_config_path, model_dir, config_override=None, overrides=None,
                 num_train_steps=None, checkpoint_every_n=1000, record_summaries=True,
                 strategy=None, xla=False, progress=print, log_every_n=100, seed=None):
  """Trains from a pipeline config; writes model_dir/pipeline.config, checkpoints, summaries.

  `seed` fixes the run (initial weights, input order, augmentations, the model's random ops);
  None: the seed of the run being resumed in model_dir, or a random one (printed at start).
  Raises interrupts.TrainingInterrupted on Ctrl-C / SIGTERM after saving the current step.
  """
  pipeline, configs = load_configs(pipeline_config_path, config_override, overrides)
  model_config, train_config = configs["model"], configs["train_config"]
  strategy = strategy or tf.distribute.get_strategy()
  os.makedirs(model_dir, exist_ok=True)
  loader.save_pipeline_config(pipeline, model_dir)

  data_model = {}

  def model_fn():
    model = model_builder.build(model_config, is_training=True)
    data_model["model"] = model
    return model

  def dataset_fn(input_context, seed, start):
    # The dataset only uses the model's `preprocess`, which has no variables.
    model = data_model.get("model") or model_builder.build(model_config, is_training=True)
    data_model["model"] = model
    return inputs.train_input(train_config, configs["train_input_config"], model_config,
                              model=model, input_context=input_context, seed=seed,
                              start=start)

  def optimizer_fn():
    return optimizer_builder.build(train_config.optimizer)

  settings = dataclasses.replace(
      train_builder.train_settings(train_config, num_train_steps, checkpoint_every_n,
                                   record_summaries, xla, log_every_n), seed=seed)
  return train_loop.train(model_fn, optimizer_fn, dataset_fn, model_dir, settings, strategy,
                          progress=progress)


class EvalRunner:
  """Model, dataset and evaluators built from the configs; evaluates checkpoints.

  The eval model is built with is_training=True as the original (quirk §12.9: the eval loss
  then includes the DeepMAC mask loss on GT boxes); predictions run with training=False.
  """

  def __init__(self, configs, sample_1_of_n_eval_examples=1, eval_on_train_data=False,
               keep_best=None):
    self.configs = configs
    self.keep_best = keep_best  # a best_checkpoint.BestCheckpointKeeper, or None
    self.eval_config = configs["eval_config"]
    self.settings = eval_builder.eval_settings(self.eval_config, configs["train_config"])
    source = configs["train_input_config" if eval_on_train_data else "eval_input_config"]
    self.eval_input_config = eval_builder.one_pass_reader(source, sample_1_of_n_eval_examples)
    self.model = model_builder.build(configs["model"], is_training=True)
    self.categories = eval_builder.categories(self.eval_input_config, self.model.num_classes)
    self._built = False
    self.average = None

  def dataset(self):
    return inputs.eval_input(self.eval_config, self.eval_input_config, self.configs["model"],
                             model=self.model)

  def evaluators(self):
    return eval_builder.build_evaluators(self.eval_config, self.categories,
                                         self.model.mask_supervised_class_ids)

  def build(self):
    """Creates the model's variables (and EMA shadows) with one forward pass."""
    if not self._built:
      self.model.build_variables()
      if self.settings.use_moving_averages:
        self.average = ema_lib.MovingAverage(self.model.trainable_variables, 0.9999)
      # Evaluated as trained (the original sets the same policy for eval on TPU).
      precision.apply(self.model, precision.policy_for(self.settings.use_bfloat16))
      self._built = True

  def evaluate_checkpoint(self, checkpoint_path, eval_dir, record_summaries=True):
    """Evaluates one checkpoint; writes TensorBoard + JSON; returns the metrics dict."""
    self.build()
    checkpoints.restore_for_eval(self.model, checkpoint_path, self.average)
    pictures = []
    category_index = {c["id"]: c for c in self.categories}

    def on_image(index, features, labels, detections, i):
      if index < self.settings.num_visualizations:
        pictures.append(visualize.side_by_side(
            features, labels, detections, i, category_index,
            self.settings.min_score_threshold, self.settings.max_num_boxes_to_visualize))

    if self.average is not None:
      with self.average.swapped_weights():
        metrics = eval_loop.evaluate(self.model, self.dataset(), self.evaluators(),
                                     on_image=on_image)
    else:
      metrics = eval_loop.evaluate(self.model, self.dataset(), self.evaluators(),
                                   on_image=on_image)
    step = checkpoints.step_of(checkpoint_path)
    eval_loop.write_metrics(metrics, step, eval_dir, record_summaries)
    if record_summaries and pictures:
      eval_loop.write_images(pictures, step, eval_dir)
    if self.keep_best is not None:  # the restored weights are still in the model
      self.keep_best.update(step, metrics, lambda prefix: checkpoints.write_copy(
          prefix, step, self.model, self.average))
    return metrics


def run_evaluation(pipeline_config_path, model_dir, checkpoint_dir, config_override=None,
                   overrides=None, sample_1_of_n_eval_examples=1, eval_timeout=3600,
                   num_train_steps=None, once=False, record_summaries=True,
                   eval_on_train_data=False, keep_best_metric=None, keep_best_mode="auto"):
  """Evaluates checkpoints of `checkpoint_dir` (the latest once, or each new one until timeout).

  Results go to `<model_dir>/eval` (TensorBoard + metrics.json). With `keep_best_metric` (a
  metrics.json key) the best checkpoint by that metric is copied to `<model_dir>/best`
  (eval/best_checkpoint.py; `keep_best_mode` max, min or auto). Returns [(step, metrics)].
  """
  _, configs = load_configs(pipeline_config_path, config_override, overrides)
  keep_best = (best_checkpoint.BestCheckpointKeeper(os.path.join(model_dir, "best"),
                                                    keep_best_metric, keep_best_mode)
               if keep_best_metric else None)
  runner = EvalRunner(configs, sample_1_of_n_eval_examples, eval_on_train_data, keep_best)
  eval_dir = os.path.join(model_dir, "eval_train" if eval_on_train_data else "eval")
  steps = train_builder.train_settings(configs["train_config"], num_train_steps).num_steps
  resolved = checkpoints.checkpoint_dir(checkpoint_dir)
  # A model-zoo directory (NAME/checkpoint/) never gets new checkpoints: evaluate it once.
  if once or resolved != checkpoint_dir:
    path = checkpoints.checkpoint_prefix(checkpoint_dir, "--checkpoint_dir")
    return [(checkpoints.step_of(path), runner.evaluate_checkpoint(path, eval_dir,
                                                                    record_summaries))]
  return eval_loop.eval_continuously(
      lambda path: runner.evaluate_checkpoint(path, eval_dir, record_summaries), resolved,
      num_train_steps=steps, timeout=eval_timeout)
