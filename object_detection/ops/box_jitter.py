"""random_jitter_boxes: the original's RandomJitterBoxes op with every jitter mode (pure TF)."""

import tensorflow as tf

from object_detection.core import randomness

JITTER_MODES = ("default", "expand", "shrink", "expand_symmetric", "shrink_symmetric",
                "expand_symmetric_xy", "shrink_symmetric_xy")


def random_jitter_boxes(boxes, ratio, jitter_mode="default", seed=None, distortion=None):
  """Randomly moves box edges by up to `ratio` of the box size (then clips to [0, 1]).

  Modes (as the original core/preprocessor.py):
    default: each edge independently, scale factor in [1-ratio, 1+ratio] of the half-size;
    expand / shrink: same with factors in [1, 1+ratio] / [1-ratio, 1];
    *_symmetric: one factor for height and one for width, applied to both edges around the
      centre (clipped so the box stays inside the image symmetrically);
    *_symmetric_xy: one factor for both height and width.

  Args:
    boxes: [N, 4] float32 normalized [ymin, xmin, ymax, xmax].
    ratio: float, maximum relative jitter.
    jitter_mode: one of JITTER_MODES.
    seed: optional [2] int stateless seed (tf.random.stateless_uniform); None takes the training
      step's seed (core/randomness.py) inside a train step, else draws with tf.random.
    distortion: optional [N, 4] float32 in [0, 1] uniform draws to use instead of random ones
      (tests pin the arithmetic with it).
  Returns:
    [N, 4] float32 jittered boxes, clipped to [0, 1].
  """
  if jitter_mode not in JITTER_MODES:
    raise ValueError(f"random_jitter_boxes: unknown jitter_mode {jitter_mode!r} "
                     f"(expected one of: {', '.join(JITTER_MODES)})")
  boxes = tf.convert_to_tensor(boxes, tf.float32)
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  ycenter, xcenter = (ymin + ymax) / 2.0, (xmin + xmax) / 2.0
  height = tf.maximum(tf.abs(ymax - ymin), 1e-6)
  width = tf.maximum(tf.abs(xmax - xmin), 1e-6)
  if jitter_mode.startswith("shrink"):
    low, high = -ratio, 0.0
  elif jitter_mode.startswith("expand"):
    low, high = 0.0, ratio
  else:
    low, high = -ratio, ratio

  if distortion is None:
    shape = tf.stack([tf.shape(boxes)[0], 4])
    seed = randomness.op_seed() if seed is None else seed
    if seed is None:
      distortion = tf.random.uniform(shape)
    else:
      distortion = tf.random.stateless_uniform(shape, seed=seed)
  factor = 1.0 + low + (high - low) * tf.convert_to_tensor(distortion, tf.float32)

  if "symmetric" in jitter_mode:
    h_factor, w_factor = factor[:, 0], factor[:, 1]
    max_h = tf.abs(tf.minimum(2.0 * ycenter / height, 2.0 * (1.0 - ycenter) / height))
    max_w = tf.abs(tf.minimum(2.0 * xcenter / width, 2.0 * (1.0 - xcenter) / width))
    if jitter_mode.endswith("_xy"):
      w_factor = h_factor
      max_h = max_w = tf.minimum(max_h, max_w)
    h_factor = tf.clip_by_value(h_factor, -max_h, max_h)
    w_factor = tf.clip_by_value(w_factor, -max_w, max_w)
    out = [ycenter - height * h_factor / 2.0, xcenter - width * w_factor / 2.0,
           ycenter + height * h_factor / 2.0, xcenter + width * w_factor / 2.0]
  else:
    out = [ycenter - height * factor[:, 0] / 2.0, xcenter - width * factor[:, 1] / 2.0,
           ycenter + height * factor[:, 2] / 2.0, xcenter + width * factor[:, 3] / 2.0]
  return tf.clip_by_value(tf.stack(out, axis=-1), 0.0, 1.0)
