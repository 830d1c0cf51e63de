"""ASNet's custom layers and the adaptive scale module (Zhu et al. 2020, sections 2.2-2.3, Figs. 2-3).

Leaf layers (registered serializable, package "asnet"):

* `SharedDilatedConv2D`: one 3x3 kernel applied with several dilation rates (section 2.2: the
  three parallel dilated convolutions "have shared weights ... the differences between these
  three branches only lie in the receptive fields").
* `ScaleAwareFusion`: the per-pixel softmax over two branches and their weighted sum (eqs. 1-2).
* `ScaledResidual`: x + beta * f with a learnable scalar beta (section 2.2's residual connection).

Graph builders composing them with ordinary Keras layers (so profilers see every convolution):
`scale_aware_module` (SAM, Fig. 3) and `adaptive_scale_module` (ASM, Fig. 2).
"""
from __future__ import annotations

import keras
from keras import ops

from common.backbones.blocks import conv_bn_relu

__all__ = [
    "SharedDilatedConv2D",
    "ScaleAwareFusion",
    "ScaledResidual",
    "adaptive_scale_module",
    "scale_aware_module",
]


@keras.saving.register_keras_serializable(package="asnet")
class SharedDilatedConv2D(keras.layers.Layer):
    """Parallel dilated convolutions sharing ONE kernel (ASNet section 2.2, Fig. 2).

    The kernel (and bias) variable is created once and applied with every rate in
    `dilation_rates` through `keras.ops.conv` with 'same' padding, so all branches keep the input's
    height and width and differ only in their receptive field.

    Args:
        filters: output channels of every branch.
        kernel_size: square kernel size (3 in the paper).
        dilation_rates: one rate per branch ((1, 2, 4) in the paper; (1, 1, 1) for ASM_w/o_DI).
        use_bias: add a (shared) bias.
        kernel_initializer, bias_initializer: Keras initializers.

    Call:
        inputs [B, H, W, C_in] -> list of len(dilation_rates) tensors [B, H, W, filters].
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        dilation_rates=(1, 2, 4),
        use_bias: bool = False,
        kernel_initializer="he_normal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.dilation_rates = tuple(int(r) for r in dilation_rates)
        if not self.dilation_rates or min(self.dilation_rates) < 1:
            raise ValueError(f"dilation_rates must be positive integers, got {dilation_rates}")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )

    def call(self, inputs):
        outputs = []
        for rate in self.dilation_rates:
            y = ops.conv(inputs, self.kernel, strides=1, padding="same", dilation_rate=rate)
            if self.bias is not None:
                y = y + self.bias
            outputs.append(y)
        return outputs

    def compute_output_shape(self, input_shape):
        return [tuple(input_shape[:-1]) + (self.filters,) for _ in self.dilation_rates]

    def macs(self, input_shape) -> int:
        """Multiply-accumulates of all branches for one input of `input_shape` ([B,] H, W, C)."""
        height, width, channels = input_shape[-3], input_shape[-2], input_shape[-1]
        per_branch = height * width * self.kernel_size**2 * channels * self.filters
        return int(per_branch * len(self.dilation_rates))

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            dilation_rates=list(self.dilation_rates),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="asnet")
class ScaleAwareFusion(keras.layers.Layer):
    """Pixel-wise softmax attention over two scale features and their weighted sum (eqs. 1-2).

    With A, B the two attention logit maps (channels 0 and 1 of `logits`):
        a_A = e^A / (e^A + e^B),  a_B = e^B / (e^A + e^B)             (eq. 1)
        M_fusion = a_A * M_A + a_B * M_B  (broadcast over channels)    (eq. 2)

    Call:
        inputs: [M_A, M_B, logits] with M_A, M_B [B, H, W, C] and logits [B, H, W, 2].
        return_attention: also return the attention maps [B, H, W, 2] (a_A, a_B).
    """

    def call(self, inputs, return_attention: bool = False):
        m_a, m_b, logits = inputs
        attention = ops.softmax(logits, axis=-1)  # eq. 1
        fused = attention[..., 0:1] * m_a + attention[..., 1:2] * m_b  # eq. 2
        if return_attention:
            return fused, attention
        return fused

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


@keras.saving.register_keras_serializable(package="asnet")
class ScaledResidual(keras.layers.Layer):
    """`x + beta * f` with one learnable scalar beta (ASNet section 2.2, the ASM's residual connection).

    Args:
        beta_init: initial beta. 0 (default) starts the module as the identity on the encoder's
            features, as DANet's attention modules do with their learnable scale.

    Call:
        inputs: [x, f] of the same shape.
    """

    def __init__(self, beta_init: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.beta_init = float(beta_init)

    def build(self, input_shape):
        self.beta = self.add_weight(
            name="beta", shape=(), initializer=keras.initializers.Constant(self.beta_init)
        )

    def call(self, inputs):
        x, f = inputs
        return x + self.beta * f

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(beta_init=self.beta_init)
        return config


def _conv_bn_relu(x, filters, kernel_size, name):
    return conv_bn_relu(x, filters, name, kernel_size=kernel_size)


def scale_aware_module(m_a, m_b, channels: int = 128, name: str = "sam"):
    """The scale-aware module (SAM, ASNet section 2.3, Fig. 3) as a piece of a functional graph.

    "A series of convolutions" turns the two scale features into the logit maps A, B: here
    concatenation -> 3x3 conv (`channels`) + BN + ReLU -> 1x1 conv to 2 maps, so each pixel's
    attention sees both scales; then `ScaleAwareFusion` applies eqs. 1-2.

    Args:
        m_a, m_b: Keras tensors [B, H, W, C] (two branches of different receptive field).
        channels: width of the hidden 3x3 convolution.
        name: prefix of the layer names.

    Returns:
        M_fusion [B, H, W, C].
    """
    x = keras.layers.Concatenate(name=f"{name}_concat")([m_a, m_b])
    x = _conv_bn_relu(x, channels, 3, name=f"{name}_hidden")
    logits = keras.layers.Conv2D(2, 1, padding="same", name=f"{name}_logits")(x)
    return ScaleAwareFusion(name=f"{name}_fusion")([m_a, m_b, logits])


def adaptive_scale_module(
    x,
    dilation_rates=(1, 2, 4),
    fusion: str = "scale_aware",
    sam_channels: int = 128,
    beta_init: float = 0.0,
    name: str = "asm",
):
    """The adaptive scale module (ASM, ASNet section 2.2, Fig. 2) on the encoder's top features.

    Three 3x3 convolutions sharing one kernel with dilation rates 1, 2, 4 (`SharedDilatedConv2D`),
    each branch followed by its own BatchNormalization and ReLU; the branches are fused by two
    cascaded scale-aware modules (SAM(SAM(b1, b2), b3), eqs. 1-2) and added back to the input
    through a residual connection weighted by a learnable beta: out = x + beta * fusion.

    Args:
        x: Keras tensor [B, H, W, C] (ResNet34's P5: C = 512).
        dilation_rates: the branches' rates; (1, 1, 1) is Table 2's "ASM_w/o_DI".
        fusion: "scale_aware" (the SAM cascade), or "mean" / "sum" of the branches: Table 2's
            "ASM_w/o_SA".
        sam_channels: hidden width of each SAM.
        beta_init: initial value of beta.
        name: prefix of the layer names.

    Returns:
        [B, H, W, C].
    """
    channels = x.shape[-1]
    branches = SharedDilatedConv2D(channels, 3, dilation_rates, name=f"{name}_shared_conv")(x)
    branches = [
        keras.layers.Activation("relu", name=f"{name}_branch{i}_relu")(
            keras.layers.BatchNormalization(name=f"{name}_branch{i}_bn")(b)
        )
        for i, b in enumerate(branches, start=1)
    ]
    if fusion == "scale_aware":
        fused = branches[0]
        for i, branch in enumerate(branches[1:], start=1):
            fused = scale_aware_module(fused, branch, sam_channels, name=f"{name}_sam{i}")
    elif fusion == "mean":
        fused = keras.layers.Average(name=f"{name}_mean")(branches) if len(branches) > 1 else branches[0]
    elif fusion == "sum":
        fused = keras.layers.Add(name=f"{name}_sum")(branches) if len(branches) > 1 else branches[0]
    else:
        raise ValueError(f"fusion must be 'scale_aware', 'mean' or 'sum', got {fusion!r}")
    return ScaledResidual(beta_init, name=f"{name}_residual")([x, fused])
