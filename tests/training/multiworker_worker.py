"""One worker of the two-worker localhost test (run as a subprocess with TF_CONFIG set).

argv: model_dir out.npz num_steps. Trains the tiny model with MultiWorkerMirroredStrategy on a
per-worker shard of the synthetic data and saves the final weights and step.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

from object_detection.training import distribution
from object_detection.training import learning_schedules as ls
from object_detection.training import testing
from object_detection.training import train_loop


def main(model_dir, out, num_steps):
  strategy = distribution.get_strategy(num_workers=2)
  holder = {}

  def model_fn():
    holder["model"] = testing.TinyCenterModel(seed=3)
    return holder["model"]

  def optimizer_fn():
    schedule = ls.ConstantSchedule(0.01)
    return keras.optimizers.SGD(schedule, momentum=0.9), schedule

  def dataset_fn(ctx, seed, start):
    batch = ctx.get_per_replica_batch_size(4)
    proto = testing.TinyCenterModel()
    # each worker sees different images (seed = its pipeline id)
    return testing.synthetic_dataset(proto, num_images=4, batch_size=batch,
                                     seed=ctx.input_pipeline_id)

  settings = train_loop.TrainSettings(num_steps=num_steps, checkpoint_every_n=2,
                                      steps_per_loop=2, num_summary_images=0, log_every_n=2)
  step = train_loop.train(model_fn, optimizer_fn, dataset_fn, model_dir, settings, strategy)
  np.savez(out, step=step, replicas=strategy.num_replicas_in_sync,
           **{f"w{i}": np.array(v) for i, v in enumerate(holder["model"].trainable_variables)})


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
