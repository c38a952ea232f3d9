"""Which `tf.distribute` strategy to train with (model_main_tf2.py's rule).

  --use_tpu        -> TPUStrategy on TPUClusterResolver(tpu_name)
  --num_workers>1  -> MultiWorkerMirroredStrategy (cluster from the TF_CONFIG environment variable)
  otherwise        -> MirroredStrategy over the local GPUs, or the default strategy on a CPU-only
                      machine (MirroredStrategy on one CPU adds nothing but overhead)

The global batch is `train_config.batch_size`; each replica gets batch / num_replicas
(`per_replica_batch_size`), and the per-replica loss is divided by the number of replicas before
gradients are taken (gradients are summed across replicas), as the original.
"""

import json
import os

import tensorflow as tf

from object_detection.core.errors import ConfigError


def get_strategy(use_tpu=False, tpu_name=None, num_workers=1):
  """Returns the tf.distribute.Strategy for these flags (see the module docstring)."""
  if use_tpu:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_name)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  if num_workers > 1:
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    if workers != num_workers:
      raise ConfigError(
          f"--num_workers: TF_CONFIG lists {workers} workers (got --num_workers={num_workers}; "
          "expected the same number, TF_CONFIG = {\"cluster\": {\"worker\": [...]}, "
          "\"task\": {...}})")
    return tf.distribute.MultiWorkerMirroredStrategy()
  if tf.config.list_logical_devices("GPU"):
    return tf.distribute.MirroredStrategy()
  return tf.distribute.get_strategy()


def per_replica_batch_size(global_batch_size, num_replicas):
  """global / replicas; raises ConfigError when it does not divide evenly."""
  if global_batch_size % num_replicas:
    raise ConfigError(
        f"train_config.batch_size: must be divisible by the number of replicas "
        f"(got {global_batch_size}; expected a multiple of {num_replicas})")
  return global_batch_size // num_replicas


def is_chief(strategy):
  """True on the worker that writes checkpoints and summaries to the model dir."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  if task_type in (None, "chief"):
    return True
  has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
  return task_type == "worker" and task_id == 0 and not has_chief


def worker_dir(model_dir, strategy):
  """model_dir on the chief; a per-worker temporary folder elsewhere (deleted by the caller)."""
  if is_chief(strategy):
    return model_dir
  resolver = strategy.cluster_resolver
  return os.path.join(model_dir, f"tmp_worker_{resolver.task_type}_{resolver.task_id}")
