"""ResNet v1 (50/101/152) split for Faster R-CNN: conv1..conv4 (stride 16) and conv5.

Layer structure and names follow `keras.applications.resnet` (`conv4_block6_out`, ...), except
that convolutions have **no bias**, as the original's Keras ResNet for detection (it overrides
`use_bias=False` "to keep it consistent with the Slim ResNet"); with the biases the model would
hold 26,560 (ResNet-50) more parameters than the original. `keras.applications` cannot build
bias-free ResNets, hence this small builder. Batch norm: momentum 0.997, epsilon 1e-5 (the
original's resnet_v1 defaults).
"""

import keras

BATCH_NORM_MOMENTUM = 0.997
BATCH_NORM_EPSILON = 1e-5

BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _bn(name):
  return keras.layers.BatchNormalization(
      axis=-1, momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name=name)


def _block(x, filters, stride, conv_shortcut, name):
  if conv_shortcut:
    shortcut = keras.layers.Conv2D(4 * filters, 1, strides=stride, use_bias=False,
                                   name=name + "_0_conv")(x)
    shortcut = _bn(name + "_0_bn")(shortcut)
  else:
    shortcut = x
  x = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=name + "_1_conv")(x)
  x = keras.layers.Activation("relu", name=name + "_1_relu")(_bn(name + "_1_bn")(x))
  x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name + "_2_conv")(x)
  x = keras.layers.Activation("relu", name=name + "_2_relu")(_bn(name + "_2_bn")(x))
  x = keras.layers.Conv2D(4 * filters, 1, use_bias=False, name=name + "_3_conv")(x)
  x = _bn(name + "_3_bn")(x)
  x = keras.layers.Add(name=name + "_add")([shortcut, x])
  return keras.layers.Activation("relu", name=name + "_out")(x)


def _stack(x, filters, blocks, stride, name):
  x = _block(x, filters, stride, True, name + "_block1")
  for i in range(2, blocks + 1):
    x = _block(x, filters, 1, False, f"{name}_block{i}")
  return x


def resnet_v1_stages(depth):
  """Builds the two halves of a ResNet v1.

  Args:
    depth: 50, 101 or 152.
  Returns:
    first: keras.Model [B, H, W, 3] -> [C2 [B, H/4, W/4, 256], C3 (/8, 512), C4 (/16, 1024)].
    second: keras.Model [N, h, w, 1024] -> [N, ceil(h/2), ceil(w/2), 2048] (conv5).
  """
  if depth not in BLOCKS:
    raise ValueError(f"resnet_v1_stages: unsupported depth (got {depth}; expected 50, 101 or 152)")
  b2, b3, b4, b5 = BLOCKS[depth]
  images = keras.Input((None, None, 3), name="images")
  x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(images)
  x = keras.layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
  x = keras.layers.Activation("relu", name="conv1_relu")(_bn("conv1_bn")(x))
  x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
  x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
  c2 = _stack(x, 64, b2, 1, "conv2")
  c3 = _stack(c2, 128, b3, 2, "conv3")
  c4 = _stack(c3, 256, b4, 2, "conv4")
  first = keras.Model(images, [c2, c3, c4], name=f"resnet{depth}_conv1_to_conv4")
  crops = keras.Input((None, None, 1024), name="conv4_features")
  c5 = _stack(crops, 512, b5, 2, "conv5")
  second = keras.Model(crops, c5, name=f"resnet{depth}_conv5")
  return first, second
