"""The adapter of `TrainConfig`: the plain settings of the train loop.

    settings = train_builder.train_settings(train_config, num_train_steps=None)
    train_loop.train(model_fn, optimizer_fn, dataset_fn, model_dir, settings, strategy)
"""

from object_detection.training import train_loop


def train_settings(train_config, num_train_steps=None, checkpoint_every_n=1000,
                   record_summaries=True, xla=False, log_every_n=100):
  """TrainConfig message (+ command-line flags) -> train_loop.TrainSettings."""
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
      use_bfloat16=bool(train_config.use_bfloat16),
      fine_tune_checkpoint=train_config.fine_tune_checkpoint,
      fine_tune_checkpoint_type=train_config.fine_tune_checkpoint_type or "detection",
      # The proto's default is V1 (the original's); a set fine_tune_checkpoint without an
      # explicit version is treated as V2 because TF2 checkpoints are object-based.
      fine_tune_checkpoint_version=("V1" if train_config.HasField(
          "fine_tune_checkpoint_version") and version == 0 else "V2"),
      log_every_n=int(log_every_n))
