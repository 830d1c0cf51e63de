"""AER-Net's custom layers: the attention gate (Fig. 5), the decoder's residual block (Fig. 4) and the
scaling of the [0, 1] input (section 3.1) to what an ImageNet encoder expects.

All are plain ``keras.layers.Layer`` subclasses written with ``keras.layers`` and ``keras.ops`` only,
so they run on the TensorFlow and JAX backends, and all are registered serializable under the
``aernet`` package so a saved ``.keras`` model loads without ``custom_objects``.

Reference: Lima & Braz Júnior (2021), "Attention Efficient Residual U-Net: uma Rede Neural para a
Segmentação de Lesões de Pele", section 3.2; the attention gate is that of Oktay et al. (2018),
"Attention U-Net: Learning where to look for the pancreas", Fig. 2 (reproduced as AER-Net's Fig. 5).
"""
from __future__ import annotations

import keras
from keras import layers, ops

PSI_ACTIVATIONS = ("sigmoid", "relu")
from common.backbones.scaling import PREPROCESSING_MODES  # noqa: F401 - part of this module's API
from common.backbones.scaling import ImageNetScaling as _ImageNetScaling



@keras.saving.register_keras_serializable(package="aernet")
class ImageNetScaling(_ImageNetScaling):
    """:class:`common.backbones.scaling.ImageNetScaling` under AER-Net's name, so that ``.keras``
    files saved with ``aernet>ImageNetScaling`` keep loading.

    AER-Net feeds CIELAB channels, not RGB, to an encoder pretrained on RGB (section 3.1); the layer
    only puts them on the numeric scale the pretrained stem expects.
    """


@keras.saving.register_keras_serializable(package="aernet")
class AttentionGate(layers.Layer):
    """Additive attention gate on a skip connection (AER-Net Fig. 5; Oktay et al. 2018, Fig. 2).

    Given the encoder skip ``x`` (``[B, H, W, Fx]``) and the gating signal ``g`` taken from the next
    coarser decoder level (``[B, H/s, W/s, Fg]``), the gate computes

        q     = ReLU(W_x * x + W_g * g)          (W_x: k=s, stride s conv, no bias; W_g: 1x1 conv)
        alpha = sigma2(psi * q)                  (psi: 1x1 conv to one channel)
        x_hat = resample(alpha, H x W) * x       (bilinear resampling to the skip's size)

    so the gate suppresses skip features in regions the coarser context deems irrelevant before the
    decoder concatenates them (section 3.2.1). ``W_x`` brings ``x`` to the gating grid with a strided
    convolution as in Oktay et al.'s implementation; ``alpha`` is one coefficient per pixel,
    broadcast over the skip's channels.

    Args:
        inter_channels: channels F_int of the intermediate map ``q``; ``None`` uses the skip's
            channel count (Oktay et al.'s default ``inter_size = in_size``).
        subsample: spatial factor ``s`` between the skip and the gating signal (2 in a U-Net).
        psi_activation: ``"sigmoid"`` (the paper's Fig. 5 and Oktay et al.: sigma2 is a sigmoid, the
            coefficients lie in (0, 1)) or ``"relu"`` (what the authors' public code does: unbounded,
            non-negative coefficients).
        interpolation: how ``alpha`` is resampled to the skip's size, ``"bilinear"`` (Oktay et al.'s
            (tri)linear resampler) or ``"nearest"`` (the authors' code).
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: the pair ``[x, g]``.

    Returns:
        The gated skip ``x_hat`` with the shape of ``x``.
    """

    def __init__(self, inter_channels: int | None = None, subsample: int = 2,
                 psi_activation: str = "sigmoid", interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        if psi_activation not in PSI_ACTIVATIONS:
            raise ValueError(f"psi_activation must be one of {PSI_ACTIVATIONS}, got {psi_activation!r}")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        if int(subsample) < 1:
            raise ValueError(f"subsample must be a positive integer, got {subsample!r}")
        self.inter_channels = None if inter_channels is None else int(inter_channels)
        self.subsample = int(subsample)
        self.psi_activation = psi_activation
        self.interpolation = interpolation

    def build(self, input_shape):
        x_shape, g_shape = (tuple(s) for s in input_shape)
        s = self.subsample
        for axis in (1, 2):
            if x_shape[axis] is not None and g_shape[axis] is not None and x_shape[axis] != g_shape[axis] * s:
                raise ValueError(
                    f"AttentionGate {self.name!r}: the skip {x_shape} must be {s}x the gating signal "
                    f"{g_shape} in height and width (subsample={s})")
        inter = self.inter_channels or int(x_shape[-1])
        self.theta_x = layers.Conv2D(inter, s, strides=s, padding="same", use_bias=False, name="theta_x")
        self.phi_g = layers.Conv2D(inter, 1, name="phi_g")
        self.psi = layers.Conv2D(1, 1, name="psi")
        self.upsample = layers.UpSampling2D(s, interpolation=self.interpolation, name="resample")
        self.theta_x.build(x_shape)
        self.phi_g.build(g_shape)
        self.psi.build(tuple(g_shape[:-1]) + (inter,))
        self.upsample.build(tuple(g_shape[:-1]) + (1,))

    def coefficients(self, x, g):
        """The attention coefficients ``alpha`` resampled to the skip's grid, ``[B, H, W, 1]``."""
        q = ops.relu(self.theta_x(x) + self.phi_g(g))
        psi = self.psi(q)
        alpha = ops.sigmoid(psi) if self.psi_activation == "sigmoid" else ops.relu(psi)
        return self.upsample(alpha) if self.subsample > 1 else alpha

    def call(self, inputs):
        x, g = inputs
        return x * self.coefficients(x, g)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(inter_channels=self.inter_channels, subsample=self.subsample,
                      psi_activation=self.psi_activation, interpolation=self.interpolation)
        return config


@keras.saving.register_keras_serializable(package="aernet")
class ResidualBlock(layers.Layer):
    """Two (3x3 conv, BN, ReLU) layers with a shortcut: AER-Net's decoder block (Fig. 4).

    Section 3.2: each decoder level ends in "residual blocks containing two convolution layers with
    3x3 filters, followed by Batch Normalization and ReLU". The main path is
    ``ReLU(BN(conv3x3(ReLU(BN(conv3x3(x))))))``; the output is that plus the shortcut, which is the
    identity when the channel count is unchanged and a 1x1 convolution followed by BN (a ResNet
    projection) when it changes, as it always does after the skip concatenation.

    With ``shortcut=False`` the layer is the plain U-Net double convolution (Ronneberger et al.
    2015, with BN), the decoder block of the rows without residual connections (Tables 1 and 2).

    Args:
        filters: output channels of both convolutions.
        kernel_size: size of the two convolutions (3 in the paper).
        shortcut: add the residual shortcut (``True``: Fig. 4) or not (plain U-Net block).
        **kwargs: base ``keras.layers.Layer`` arguments.
    """

    def __init__(self, filters: int, kernel_size: int = 3, shortcut: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.shortcut = bool(shortcut)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        mid_shape = input_shape[:-1] + (self.filters,)
        self.conv1 = layers.Conv2D(self.filters, self.kernel_size, padding="same", use_bias=False, name="conv1")
        self.bn1 = layers.BatchNormalization(name="bn1")
        self.conv2 = layers.Conv2D(self.filters, self.kernel_size, padding="same", use_bias=False, name="conv2")
        self.bn2 = layers.BatchNormalization(name="bn2")
        self.conv1.build(input_shape)
        self.bn1.build(mid_shape)
        self.conv2.build(mid_shape)
        self.bn2.build(mid_shape)
        self.project = self.shortcut and input_shape[-1] != self.filters
        if self.project:
            self.conv_shortcut = layers.Conv2D(self.filters, 1, use_bias=False, name="conv_shortcut")
            self.bn_shortcut = layers.BatchNormalization(name="bn_shortcut")
            self.conv_shortcut.build(input_shape)
            self.bn_shortcut.build(mid_shape)

    def call(self, inputs, training=None):
        y = ops.relu(self.bn1(self.conv1(inputs), training=training))
        y = ops.relu(self.bn2(self.conv2(y), training=training))
        if not self.shortcut:
            return y
        skip = self.bn_shortcut(self.conv_shortcut(inputs), training=training) if self.project else inputs
        return y + skip

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, shortcut=self.shortcut)
        return config
