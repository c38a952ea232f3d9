"""Mixed precision: bfloat16 compute with float32 variables, losses and optimizer state.

    model = model_builder.build(model_config, is_training=True)
    ... one forward pass (creates the float32 variables) ...
    precision.apply(model, precision.policy_for(train_config.use_bfloat16))

`apply` sets a Keras dtype policy on every layer of a model. With `mixed_bfloat16`, each layer
casts its floating inputs and reads its variables as bfloat16, so convolutions and matmuls run
in bfloat16 (oneDNN/AMX on CPU, tensor cores on GPU, the MXU on TPU). What stays float32:
  - the variables (and therefore the optimizer's slots and the checkpoints);
  - batch-norm statistics (Keras' BatchNormalization upcasts its input to float32);
  - everything outside the layers: the meta-architectures cast the tasks' head outputs to
    float32 (`to_float32`) before targets, losses and postprocessing.
bfloat16 has float32's exponent range, so no loss scaling is needed.

The original (model_lib_v2) sets the global `mixed_bfloat16` policy only on TPU and ignores
`use_bfloat16` elsewhere; here it applies on every device (docs/DEVIATIONS.md).
"""

import tensorflow as tf

FLOAT32 = "float32"
MIXED_BFLOAT16 = "mixed_bfloat16"
POLICIES = (FLOAT32, MIXED_BFLOAT16)


def policy_for(use_bfloat16):
  """bool (train_config.use_bfloat16, an export flag) -> policy name."""
  return MIXED_BFLOAT16 if use_bfloat16 else FLOAT32


def all_layers(model):
  """Every Keras layer reachable from `model` (itself included), each once."""
  return list(model._flatten_layers(include_self=True, recursive=True))  # pylint: disable=protected-access


def apply(model, policy):
  """Sets the Keras dtype policy `policy` (a name of POLICIES) on every layer of `model`.

  Safe before or after the variables exist: a policy's variable dtype is float32 either way,
  and the compute dtype is read at each call. Call it again after anything that creates new
  layers. Returns the model.
  """
  if policy not in POLICIES:
    raise ValueError(f"precision.apply: unknown policy (got {policy!r}; expected one of "
                     f"{', '.join(POLICIES)})")
  for layer in all_layers(model):
    layer.dtype_policy = policy
  return model


def bfloat16_weights(model):
  """Inference only: the kernels and biases of every layer that computes in bfloat16 (set `apply`
  first) are held as bfloat16 variables instead of float32 ones, in place. Batch norm and
  float32 layers keep their float32 variables.

  Under mixed precision each call would otherwise cast those weights from float32 again, and TF's
  oneDNN kernels keep their own bfloat16 copy besides: CenterNet HG-104 (191 M parameters) held
  2,011 MB after a 512x512 inference against 1,587 MB with bfloat16 weights. The weights are the
  same bfloat16 numbers either way (the tiny DeepMAC's outputs are bit-identical; on HG-104 oneDNN
  picks other kernels, and scores move within bfloat16 rounding). Training, optimizers and checkpoints
  need the float32 variables: use this on a model that will only run inference (export writes
  its float32 checkpoint first). Returns the number of variables converted.
  """
  count = 0
  for layer in all_layers(model):
    if layer.compute_dtype != "bfloat16" or not hasattr(layer, "kernel"):
      continue
    for variable in layer._trainable_variables:  # pylint: disable=protected-access
      inner = variable.value  # outside an autocast scope: the float32 tf.Variable itself
      if not isinstance(inner, tf.Variable) or inner.dtype != tf.float32:
        continue
      # Keras 3 keeps the backing tf.Variable in `_value` and its dtype in `_dtype`.
      variable._value = tf.Variable(  # pylint: disable=protected-access
          tf.cast(inner, tf.bfloat16), trainable=False, name=inner.name.split(":")[0])
      variable._dtype = "bfloat16"  # pylint: disable=protected-access
      count += 1
  return count


def compute_dtype(model):
  """The compute dtype name of `model`'s layers ('float32' or 'bfloat16')."""
  return model.compute_dtype


def to_float32(structure):
  """Casts every floating tensor of a nested structure (dict/list/tuple) to float32."""

  def cast(value):
    if isinstance(value, (tf.Tensor, tf.Variable)) and value.dtype.is_floating:
      return tf.cast(value, tf.float32)
    return value

  return tf.nest.map_structure(cast, structure)
