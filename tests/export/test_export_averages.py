"""Deviation D4 (docs/DEVIATIONS.md): with use_moving_average, the exporter exports the
moving-average weights held by the checkpoint (the weights eval reports); the original exported
the raw weights."""

import numpy as np
import tensorflow as tf

from object_detection.export import exporter_lib
from object_detection.training import checkpoints
from object_detection.training import moving_average as ema_lib
from object_detection.training import testing


def test_export_restores_the_averages_not_the_raw_weights(tmp_path):
  model = testing.TinyCenterModel(seed=2)
  model(tf.zeros([1, 64, 64, 3]))
  average = ema_lib.MovingAverage(model.trainable_variables, 0.9999)
  for avg, var in zip(average.averages, model.trainable_variables):
    avg.assign(var + 1.0)             # averages differ from the raw weights by exactly 1
  raw = [v.numpy() for v in model.trainable_variables]
  ckpt = checkpoints.make_checkpoint(tf.Variable(3, dtype=tf.int64), model,
                                     moving_average=average)
  tf.train.CheckpointManager(ckpt, str(tmp_path), 1).save(checkpoint_number=3)

  exported = testing.TinyCenterModel(seed=9)
  exporter_lib.restore_model(exported, str(tmp_path), use_moving_average=True)
  for var, value in zip(exported.trainable_variables, raw):
    np.testing.assert_allclose(var.numpy(), value + 1.0, rtol=0, atol=1e-6)
  as_original = testing.TinyCenterModel(seed=9)
  exporter_lib.restore_model(as_original, str(tmp_path), use_moving_average=False)
  for var, value in zip(as_original.trainable_variables, raw):
    np.testing.assert_array_equal(var.numpy(), value)
