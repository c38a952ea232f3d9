"""Container layers that build on their first call, without Keras 3's symbolic pre-trace.

A Keras 3 layer without its own `build()` is built, when first called, by tracing `call` on
symbolic inputs (`compute_output_spec`) so that its sublayers create their variables. Inside that
trace every nested container does the same again, so a subtree at depth d is traced 2^d times:
the first call of the Hourglass-104 backbone (containers nested ~8 deep) took minutes. Container
layers inherit `BuildOnCall` instead: `build` only marks the layer built, and each sublayer
creates its variables during the real first call, exactly once.
"""


class BuildOnCall:
  """Mixin (list it before keras.layers.Layer) for layers that only hold other layers."""

  def build(self, *args, **kwargs):
    del args, kwargs  # sublayers build on their own first call
    self.built = True
