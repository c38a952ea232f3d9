"""Why XLA does not speed up our CPU training steps: the same convolution (forward, and forward +
backward) as a plain tf.function (TensorFlow's oneDNN kernels) and under XLA (jit_compile=True),
in float32 and bfloat16.

    .venv/bin/python benchmarks/xla_cpu_conv.py            # ResNet/FPN-sized 3x3 convs, batch 1
    .venv/bin/python benchmarks/xla_cpu_conv.py --small    # quick check

Convolutions are almost all of a Mask R-CNN or CenterNet step (benchmarks/mask_rcnn_profile.py,
compare_reference.py). TensorFlow runs them with oneDNN (brgemm kernels, AMX for bfloat16 where
the CPU has it); XLA:CPU lowers them to its own Eigen-based convolution instead, so what XLA
saves by fusing the elementwise ops around them is small next to what it loses on each
convolution. Prints one line per case (median seconds, XLA / tf.function ratio) and a JSON dict.
"""

import argparse
import json
import statistics
import time

import tensorflow as tf


def _median(fn, steps):
  fn()  # trace / compile
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _case(size, channels, dtype, backward, jit, steps):
  x = tf.random.stateless_normal([1, size, size, channels], seed=(1, 2), dtype=dtype)
  kernel = tf.Variable(tf.random.stateless_normal([3, 3, channels, channels], seed=(3, 4)) * 0.05)

  @tf.function(jit_compile=jit)
  def step(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf.nn.relu(tf.nn.conv2d(x, tf.cast(kernel, dtype), 1, "SAME"))
      y = tf.nn.conv2d(y, tf.cast(kernel, dtype), 1, "SAME") + x  # a residual pair
      loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
    if not backward:
      return loss
    return tape.gradient(loss, [x, kernel])
  return _median(lambda: step(x), steps)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--small", action="store_true", help="32x32x32 instead of ResNet sizes")
  parser.add_argument("--steps", type=int, default=5)
  args = parser.parse_args(argv)
  shapes = [(32, 32)] if args.small else [(160, 256), (80, 256), (40, 512)]
  results = []
  for size, channels in shapes:
    for dtype in (tf.float32, tf.bfloat16):
      for backward in (False, True):
        graph = _case(size, channels, dtype, backward, False, args.steps)
        xla = _case(size, channels, dtype, backward, True, args.steps)
        row = {"size": size, "channels": channels, "dtype": dtype.name,
               "pass": "forward+backward" if backward else "forward",
               "tf_function_s": round(graph, 5), "xla_s": round(xla, 5),
               "xla_over_tf_function": round(xla / graph, 2)}
        results.append(row)
        print(f"{size}x{size}x{channels} {dtype.name:8s} {row['pass']:16s} tf.function "
              f"{graph * 1e3:8.1f} ms  XLA {xla * 1e3:8.1f} ms  XLA/tf.function "
              f"{xla / graph:5.2f}x", flush=True)
  print(json.dumps(results))
  return 0


if __name__ == "__main__":
  main()
