"""SLSNet's custom layers: channel and position attention, the factorized-attention module.

Sarker et al., "SLSNet: Skin lesion segmentation using a lightweight generative adversarial
network", Expert Systems With Applications 183 (2021) 115433, Section 3.1:

- `CAM`: channel attention module, eqs. (1)-(2), Fig. 2 (from DANet, Fu et al. 2019).
- `PAM`: position attention module, eqs. (3)-(4), Fig. 3 (from DANet).
- `FactorizedConv`: the residual 1-D kernel factorized layer, eqs. (5)-(6) (ERFNet's
  non-bottleneck-1D block, Romera et al. 2018).
- `FAM`: factorized-attention module, Fig. 4 = `FactorizedConv` followed by a `CAM`.

Tensors are channels-last ``[batch, height, width, channels]``; the paper's ``C x H x W``
matrices are the same maps transposed. Only `keras.layers` and `keras.ops` are used, so the
layers run on every Keras 3 backend.

Every attention layer has ``macs(input_shape)``: the multiply-accumulates of its own matrix
products (its convolutions are sub-layers and are counted as such by
`common.profiling.count_macs`).
"""
from __future__ import annotations

import keras
from keras import ops

__all__ = ["CAM", "PAM", "FactorizedConv", "FAM"]

# PyTorch's BatchNorm2d default momentum 0.1 (the paper's implementation is in PyTorch).
_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-3  # ERFNet's non-bottleneck-1D uses eps=1e-3


def _batch(input_shape) -> int:
    batch = input_shape[0]
    return 1 if batch is None else int(batch)


def _positions(input_shape) -> int:
    height, width = input_shape[1], input_shape[2]
    if height is None or width is None:
        raise ValueError(f"macs() needs static height and width, got input shape {input_shape}")
    return int(height) * int(width)


@keras.saving.register_keras_serializable(package="slsnet")
class CAM(keras.layers.Layer):
    """Channel attention module (SLSNet Section 3.1.1, eqs. 1-2, Fig. 2).

    With the input ``A`` reshaped to ``C x N`` (``N = H * W``)::

        x_ji = exp(A_i . A_j) / sum_i exp(A_i . A_j)          (1)
        E_j  = gamma * sum_i x_ji A_i + A_j                   (2)

    The attention map comes straight from the features: the module has no convolution and a
    single learnable scalar ``gamma``, initialised to 0 so that the module starts as the
    identity (DANet). Eq. (1) is implemented as written; DANet's code instead feeds
    ``max(energy) - energy`` to the softmax.

    The affinities ``A_i . A_j`` and the softmax are computed in float32 whatever the layer's
    compute dtype, because the dot products over all positions overflow float16.

    Args:
        gamma_initializer: initializer of the scale ``gamma`` (default zeros, as the paper).
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, gamma_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"CAM expects [batch, height, width, channels], got {input_shape}")
        self.gamma = self.add_weight(
            name="gamma", shape=(), initializer=self.gamma_initializer, trainable=True
        )

    def attention(self, inputs):
        """The channel attention map ``X`` of eq. (1), ``[batch, C, C]``, row ``j`` sums to 1."""
        features = self._flatten(inputs)
        features32 = ops.cast(features, "float32")
        energy = ops.matmul(ops.transpose(features32, (0, 2, 1)), features32)  # [B, C(j), C(i)]
        return ops.softmax(energy, axis=-1)

    def call(self, inputs):
        features = self._flatten(inputs)  # [B, N, C]
        attention = ops.cast(self.attention(inputs), features.dtype)  # x_ji
        # sum_i x_ji A_i  ->  [B, N, C(j)]
        attended = ops.matmul(features, ops.transpose(attention, (0, 2, 1)))
        attended = ops.reshape(attended, ops.shape(inputs))
        return ops.cast(self.gamma, inputs.dtype) * attended + inputs

    @staticmethod
    def _flatten(inputs):
        shape = ops.shape(inputs)
        return ops.reshape(inputs, (shape[0], shape[1] * shape[2], inputs.shape[-1]))

    def compute_output_shape(self, input_shape):
        return input_shape

    def macs(self, input_shape) -> int:
        """Multiply-accumulates of eqs. (1)-(2): ``A A^T`` and ``X^T A``, each ``N C^2``."""
        channels = int(input_shape[-1])
        return _batch(input_shape) * 2 * _positions(input_shape) * channels * channels

    def get_config(self):
        config = super().get_config()
        config["gamma_initializer"] = keras.initializers.serialize(self.gamma_initializer)
        return config


@keras.saving.register_keras_serializable(package="slsnet")
class PAM(keras.layers.Layer):
    """Position attention module (SLSNet Section 3.1.2, eqs. 3-4, Fig. 3).

    ``B``, ``C`` and ``D`` come from the input ``A`` through a 1x1 convolution, batch
    normalisation and ReLU each (Fig. 3); with ``N = H * W`` positions::

        s_ji = exp(B_i . C_j) / sum_i exp(B_i . C_j)          (3)
        E_j  = eta * sum_i s_ji D_i + A_j                     (4)

    ``D`` keeps the ``C`` channels of ``A``. ``B`` and ``C`` have ``C // reduction`` channels:
    the paper (like the DANet paper it copies) writes ``{B, C} in R^{C x H x W}``, but DANet's
    code and the authors' own earlier FCA-Net code reduce them to ``C / 8``; ``reduction=1``
    gives the literal reading. ``eta`` is a learnable scalar initialised to 0 (DANet, SAGAN).
    The energies and the softmax over positions are computed in float32.

    Args:
        reduction: channel reduction of ``B`` and ``C`` (default 8, DANet).
        eta_initializer: initializer of the scale ``eta`` (default zeros).
        kernel_initializer: initializer of the three 1x1 convolutions.
        **kwargs: standard `keras.layers.Layer` arguments.
    """

    def __init__(self, reduction=8, eta_initializer="zeros", kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        if int(reduction) < 1:
            raise ValueError(f"reduction must be >= 1, got {reduction}")
        self.reduction = int(reduction)
        self.eta_initializer = keras.initializers.get(eta_initializer)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _projection(self, filters, name):
        conv = keras.layers.Conv2D(filters, 1, kernel_initializer=self.kernel_initializer,
                                   dtype=self.dtype_policy, name=f"{name}_conv")
        norm = keras.layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON,
                                               dtype=self.dtype_policy, name=f"{name}_bn")
        return conv, norm

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"PAM expects [batch, height, width, channels], got {input_shape}")
        channels = int(input_shape[-1])
        self.key_channels = max(1, channels // self.reduction)
        self.b_conv, self.b_bn = self._projection(self.key_channels, "b")
        self.c_conv, self.c_bn = self._projection(self.key_channels, "c")
        self.d_conv, self.d_bn = self._projection(channels, "d")
        for conv, norm, filters in ((self.b_conv, self.b_bn, self.key_channels),
                                    (self.c_conv, self.c_bn, self.key_channels),
                                    (self.d_conv, self.d_bn, channels)):
            conv.build(input_shape)
            norm.build(tuple(input_shape[:-1]) + (filters,))
        self.eta = self.add_weight(
            name="eta", shape=(), initializer=self.eta_initializer, trainable=True
        )

    def _project(self, conv, norm, inputs, training):
        return ops.relu(norm(conv(inputs), training=training))

    @staticmethod
    def _flatten(x):
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1] * shape[2], x.shape[-1]))

    def attention(self, inputs, training=None):
        """The spatial attention map ``S`` of eq. (3), ``[batch, N, N]`` with rows ``j``."""
        b = self._flatten(self._project(self.b_conv, self.b_bn, inputs, training))
        c = self._flatten(self._project(self.c_conv, self.c_bn, inputs, training))
        # energy[j, i] = B_i . C_j ; softmax over the positions i.
        energy = ops.matmul(ops.cast(c, "float32"), ops.transpose(ops.cast(b, "float32"),
                                                                  (0, 2, 1)))
        return ops.softmax(energy, axis=-1)

    def call(self, inputs, training=None):
        attention = self.attention(inputs, training=training)
        d = self._flatten(self._project(self.d_conv, self.d_bn, inputs, training))  # [B, N, C]
        # sum_i s_ji D_i, in float32: a float16 copy of the [N, N] map would add half its memory
        # under mixed precision (at 256x256, N = 65536 positions); D ([N, C]) is cast instead
        attended = ops.cast(ops.matmul(attention, ops.cast(d, "float32")), d.dtype)
        attended = ops.reshape(attended, ops.shape(inputs))
        return ops.cast(self.eta, inputs.dtype) * attended + inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def macs(self, input_shape) -> int:
        """Multiply-accumulates of eqs. (3)-(4): ``N^2 C/r`` for ``S`` and ``N^2 C`` for ``SD``.

        The three 1x1 convolutions are sub-layers and are not included.
        """
        channels = int(input_shape[-1])
        key_channels = max(1, channels // self.reduction)
        n = _positions(input_shape)
        return _batch(input_shape) * n * n * (key_channels + channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            reduction=self.reduction,
            eta_initializer=keras.initializers.serialize(self.eta_initializer),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="slsnet")
class FactorizedConv(keras.layers.Layer):
    """Residual 1-D kernel factorized layer (SLSNet Section 3.1.3, eqs. 5-6, Fig. 4).

    ERFNet's non-bottleneck-1D block, which the paper cites for the factorization: two pairs
    of a ``k x 1`` and a ``1 x k`` convolution (the second pair optionally dilated), ReLU
    between them and batch normalisation after each pair, an optional spatial dropout, and the
    residual connection ``relu(x + F(x))``. The channel count is kept.

    Args:
        dilation: dilation of the second ``k x 1`` / ``1 x k`` pair (ERFNet); 1 = none.
        dropout: spatial dropout rate before the residual sum (0 = none).
        kernel_size: length ``k`` of the 1-D kernels (``d`` in eq. 5; 3 in the paper).
        kernel_initializer: initializer of the four convolutions.
        **kwargs: standard `keras.layers.Layer` arguments.
    """

    def __init__(self, dilation=1, dropout=0.0, kernel_size=3,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.dilation = int(dilation)
        self.dropout = float(dropout)
        self.kernel_size = int(kernel_size)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"FactorizedConv needs a known channel count, got {input_shape}")
        k, d = self.kernel_size, self.dilation

        def conv(kernel, dilation, name):
            return keras.layers.Conv2D(
                int(channels), kernel, padding="same", dilation_rate=dilation,
                kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy, name=name,
            )

        self.conv_v1 = conv((k, 1), (1, 1), "conv_v1")
        self.conv_h1 = conv((1, k), (1, 1), "conv_h1")
        self.conv_v2 = conv((k, 1), (d, 1), "conv_v2")
        self.conv_h2 = conv((1, k), (1, d), "conv_h2")
        self.bn1 = keras.layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON,
                                                   dtype=self.dtype_policy, name="bn1")
        self.bn2 = keras.layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON,
                                                   dtype=self.dtype_policy, name="bn2")
        for layer in (self.conv_v1, self.conv_h1, self.conv_v2, self.conv_h2,
                      self.bn1, self.bn2):
            layer.build(input_shape)
        self.spatial_dropout = (
            keras.layers.SpatialDropout2D(self.dropout, dtype=self.dtype_policy, name="dropout")
            if self.dropout > 0 else None
        )

    def call(self, inputs, training=None):
        x = ops.relu(self.conv_v1(inputs))
        x = ops.relu(self.bn1(self.conv_h1(x), training=training))
        x = ops.relu(self.conv_v2(x))
        x = self.bn2(self.conv_h2(x), training=training)
        if self.spatial_dropout is not None:
            x = self.spatial_dropout(x, training=training)
        return ops.relu(x + inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            dilation=self.dilation,
            dropout=self.dropout,
            kernel_size=self.kernel_size,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="slsnet")
class FAM(keras.layers.Layer):
    """Factorized-attention module (SLSNet Section 3.1.3, Fig. 4).

    A residual 1-D factorized layer (`FactorizedConv`) whose output is fed into a channel
    attention module (`CAM`, eqs. 1-2). With ``use_cam=False`` it is the plain factorized
    layer the baseline "BL GAN" of Table 6 stacks.

    Args:
        dilation: dilation of the factorized layer's second pair of 1-D convolutions.
        dropout: spatial dropout rate inside the factorized layer.
        use_cam: follow the factorized layer with a CAM (Table 6: "BL + CAM" adds it).
        kernel_initializer: initializer of the factorized layer's convolutions.
        **kwargs: standard `keras.layers.Layer` arguments.
    """

    def __init__(self, dilation=1, dropout=0.0, use_cam=True,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.dilation = int(dilation)
        self.dropout = float(dropout)
        self.use_cam = bool(use_cam)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.factorized = FactorizedConv(
            dilation=self.dilation, dropout=self.dropout,
            kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
            name="factorized",
        )
        self.factorized.build(input_shape)
        self.cam = CAM(dtype=self.dtype_policy, name="cam") if self.use_cam else None
        if self.cam is not None:
            self.cam.build(input_shape)

    def call(self, inputs, training=None):
        x = self.factorized(inputs, training=training)
        return self.cam(x) if self.cam is not None else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            dilation=self.dilation,
            dropout=self.dropout,
            use_cam=self.use_cam,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
