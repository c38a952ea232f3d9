"""Pipeline config -> train / eval runs (the original's model_lib_v2.train_loop/eval_continuously).

This is the only module of training/ and eval/ that reads protos: it turns the configs into
built parts (model, optimizer, datasets, evaluators) and plain settings, then calls
`train_loop.train` and `eval_loop.evaluate` / `eval_loop.eval_continuously`.
"""

import dataclasses
import logging
import os

import tensorflow as tf

from object_detection.builders import model_builder
from object_detection.builders import optimizer_builder
from object_detection.config import loader
from object_detection.eval import eval_loop
from object_detection.eval import metrics as metrics_lib
from object_detection.eval import visualize
from object_detection.training import moving_average as ema_lib
from object_detection.training import train_loop
from object_detection.utils import config_util
from object_detection.utils import label_map_util

log = logging.getLogger(__name__)


def load_configs(pipeline_config_path, config_override=None, overrides=None):
  """-> (pipeline proto, configs dict of config_util)."""
  pipeline = loader.load_pipeline_config(pipeline_config_path, config_override=config_override,
                                         overrides=overrides)
  return pipeline, config_util.create_configs_from_pipeline_proto(pipeline)


def train_settings(train_config, num_train_steps=None, checkpoint_every_n=1000,
                   record_summaries=True, xla=False):
  """TrainConfig message (+ flags) -> train_loop.TrainSettings."""
  opt = train_config.optimizer
  version = train_config.fine_tune_checkpoint_version
  return train_loop.TrainSettings(
      num_steps=int(num_train_steps if num_train_steps is not None else train_config.num_steps),
      checkpoint_every_n=int(checkpoint_every_n),
      gradient_clipping_by_norm=float(train_config.gradient_clipping_by_norm),
      add_regularization_loss=bool(train_config.add_regularization_loss),
      use_moving_average=bool(opt.use_moving_average),
      moving_average_decay=float(opt.moving_average_decay),
      record_summaries=bool(record_summaries), xla=bool(xla),
      fine_tune_checkpoint=train_config.fine_tune_checkpoint,
      fine_tune_checkpoint_type=train_config.fine_tune_checkpoint_type or "detection",
      # The proto's default is V1 (the original's); a set fine_tune_checkpoint without an
      # explicit version is treated as V2 because TF2 checkpoints are object-based.
      fine_tune_checkpoint_version=("V1" if train_config.HasField(
          "fine_tune_checkpoint_version") and version == 0 else "V2"))


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
  from object_detection import inputs  # pylint: disable=import-outside-toplevel

  data_model = {}

  def model_fn():
    model = model_builder.build(model_config, is_training=True)
    data_model["model"] = model
    return model

  def dataset_fn(input_context, seed):
    # The dataset only uses the model's `preprocess`, which has no variables.
    model = data_model.get("model") or model_builder.build(model_config, is_training=True)
    data_model["model"] = model
    return inputs.train_input(train_config, configs["train_input_config"], model_config,
                              model=model, input_context=input_context, seed=seed)

  def optimizer_fn():
    return optimizer_builder.build(train_config.optimizer)

  settings = dataclasses.replace(
      train_settings(train_config, num_train_steps, checkpoint_every_n, record_summaries, xla),
      log_every_n=int(log_every_n), seed=seed)
  return train_loop.train(model_fn, optimizer_fn, dataset_fn, model_dir, settings, strategy,
                          progress=progress)


def categories_of(eval_input_config, num_classes):
  """Label map of the eval reader -> list of {"id", "name"} (ids 1..num_classes)."""
  if eval_input_config.label_map_path:
    return label_map_util.create_categories_from_labelmap(eval_input_config.label_map_path)
  return [{"id": i, "name": str(i)} for i in range(1, num_classes + 1)]


def mask_supervised_class_ids(model_config):
  """The 1-based class ids whose masks supervise training, or None (all classes).

  DeepMAC: `center_net.deepmac_mask_estimation.allowed_masked_classes_ids`; Mask R-CNN with deep
  mask heads: `faster_rcnn.allowed_masked_classes_ids` (our field 1001). Empty means all.
  """
  arch = model_config.WhichOneof("model")
  if arch == "center_net":
    cn = model_config.center_net
    if not cn.HasField("deepmac_mask_estimation"):
      return None
    ids = list(cn.deepmac_mask_estimation.allowed_masked_classes_ids)
  elif arch == "faster_rcnn":
    ids = list(model_config.faster_rcnn.allowed_masked_classes_ids)
  else:
    return None
  return ids or None


class EvalRunner:
  """Model, dataset and evaluators built from the configs; evaluates checkpoints.

  The eval model is built with is_training=True as the original (quirk §12.9: the eval loss
  then includes the DeepMAC mask loss on GT boxes); predictions run with training=False.
  """

  def __init__(self, configs, sample_1_of_n_eval_examples=1, eval_on_train_data=False):
    self.configs = configs
    model_config = configs["model"]
    self.eval_config = configs["eval_config"]
    source = configs["train_input_config" if eval_on_train_data else "eval_input_config"]
    reader = type(source)()
    reader.CopyFrom(source)
    reader.num_epochs = 1
    reader.shuffle = False
    if sample_1_of_n_eval_examples and sample_1_of_n_eval_examples > 1:
      reader.sample_1_of_n_examples = int(sample_1_of_n_eval_examples)
    self.eval_input_config = reader
    self.model = model_builder.build(model_config, is_training=True)
    self.categories = categories_of(reader, config_util.get_number_of_classes(model_config))
    self.supervised = mask_supervised_class_ids(model_config)
    self._built = False
    self.average = None

  def dataset(self):
    from object_detection import inputs  # pylint: disable=import-outside-toplevel
    return inputs.eval_input(self.eval_config, self.eval_input_config, self.configs["model"],
                             model=self.model)

  def evaluators(self):
    return metrics_lib.build_evaluators(self.categories, self.eval_config, self.supervised)

  def build(self):
    """Creates the model's variables (and EMA shadows) with one forward pass."""
    if not self._built:
      features, _ = next(iter(self.dataset()))
      self.model.postprocess(self.model.predict(features["image"], features["true_image_shape"]),
                             features["true_image_shape"])
      if self.eval_config.use_moving_averages:
        self.average = ema_lib.MovingAverage(self.model.trainable_variables, 0.9999)
      self._built = True

  def evaluate_checkpoint(self, checkpoint_path, eval_dir, record_summaries=True):
    """Evaluates one checkpoint; writes TensorBoard + JSON; returns the metrics dict."""
    from object_detection.training import checkpoints  # pylint: disable=import-outside-toplevel
    self.build()
    checkpoints.restore_for_eval(self.model, checkpoint_path, self.average)
    pictures = []
    category_index = {c["id"]: c for c in self.categories}

    def on_image(index, features, labels, detections, i):
      if index < self.eval_config.num_visualizations:
        pictures.append(visualize.side_by_side(
            features, labels, detections, i, category_index,
            self.eval_config.min_score_threshold, self.eval_config.max_num_boxes_to_visualize))

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
    return metrics


def run_evaluation(pipeline_config_path, model_dir, checkpoint_dir, config_override=None,
                   overrides=None, sample_1_of_n_eval_examples=1, eval_timeout=3600,
                   num_train_steps=None, once=False, record_summaries=True,
                   eval_on_train_data=False):
  """Evaluates checkpoints of `checkpoint_dir` (the latest once, or each new one until timeout).

  Results go to `<model_dir>/eval` (TensorBoard + metrics.json). Returns [(step, metrics)].
  """
  _, configs = load_configs(pipeline_config_path, config_override, overrides)
  runner = EvalRunner(configs, sample_1_of_n_eval_examples, eval_on_train_data)
  eval_dir = os.path.join(model_dir, "eval_train" if eval_on_train_data else "eval")
  steps = num_train_steps if num_train_steps is not None else configs["train_config"].num_steps
  from object_detection.training import checkpoints  # pylint: disable=import-outside-toplevel
  if once:
    path = checkpoints.checkpoint_prefix(checkpoint_dir, "--checkpoint_dir")
    return [(checkpoints.step_of(path), runner.evaluate_checkpoint(path, eval_dir,
                                                                    record_summaries))]
  return eval_loop.eval_continuously(
      lambda path: runner.evaluate_checkpoint(path, eval_dir, record_summaries), checkpoint_dir,
      num_train_steps=steps, timeout=eval_timeout)
