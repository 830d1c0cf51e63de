"""AER-Net and its ablations as one builder (Lima & Braz Júnior 2021, section 3.2, Fig. 3).

``build_model(cfg)`` assembles, from an :class:`~reproductions.aernet.configs.AERNetConfig`:

* an encoder: a named backbone from :func:`common.backbones.build_encoder` (EfficientNetB1 for
  AER-Net, the backbones of Table 1), preceded by a 1x1 ``colour_adapter`` for 1- or 6-channel
  inputs and by :class:`ImageNetScaling`; or, for ``encoder="unet"``, the original U-Net's
  from-scratch contracting path (Table 2, rows 1-3);
* a decoder whose every level doubles the resolution with a stride-2 transposed convolution that sets
  the channels to that level's width (halving them level after level), concatenates the encoder skip
  of that resolution -- passed through an :class:`AttentionGate` gated by the coarser level when
  ``use_attention`` (Fig. 5) -- and applies a :class:`ResidualBlock` (Fig. 4; the plain double
  convolution when ``use_residual`` is off);
* a 1x1 convolution with a sigmoid giving the lesion probability at the input's resolution.

Ablations are flags of the config, never subclasses.
"""
from __future__ import annotations

import math

import numpy as np

import keras
from keras import layers

from common.backbones import build_encoder, preprocessing_mode
from reproductions.aernet.configs import BASE, UNET_ENCODER, AERNetConfig
from reproductions.aernet.layers import AttentionGate, ImageNetScaling, ResidualBlock

CONFIG_WEIGHTS = "config"  # build_model's default: take the encoder weights from the config


def size_multiple(cfg: AERNetConfig) -> int:
    """Image sides must be multiples of this: the encoder's coarsest stride (32 for the backbones,
    2 to the number of poolings for the from-scratch U-Net encoder)."""
    return 2 ** (len(cfg.unet_encoder_filters) - 1) if cfg.encoder == UNET_ENCODER else 32


def build_unet_encoder(input_shape: tuple[int | None, int | None, int],
                       filters: tuple[int, ...] = (64, 128, 256, 512, 1024)) -> keras.Model:
    """The contracting path of the original U-Net (Ronneberger et al. 2015), trained from scratch.

    Table 2's first three rows ("U-Net", "Attention + U-Net", "Attention + Residual connections +
    U-Net") have no pretrained encoder. Each level is two 3x3 convolutions (with BN and ReLU, and
    'same' padding so the output keeps the input's size, unlike the 2015 paper's unpadded, BN-free
    convolutions); 2x2 max pooling separates the levels.

    Args:
        input_shape: ``(height, width, channels)`` of the image.
        filters: channels of each level, finest first (the 2015 paper's 64 ... 1024).

    Returns:
        A ``keras.Model`` whose output is a dict ``{"P0": ..., "P4": ...}``: ``Pn`` at stride ``2**n``.
    """
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    outputs = {}
    for level, width in enumerate(filters):
        if level:
            x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
        x = ResidualBlock(width, shortcut=False, name=f"conv_block{level}")(x)
        outputs[f"P{level}"] = x
    return keras.Model(inputs, outputs, name="unet_encoder")


def _colour_adapter(x, channels: int):
    """A learned 1x1 convolution from ``channels`` to the 3 channels of a pretrained stem.

    Initialised to a sensible colour mapping (weights are overwritten when a model is loaded):
    grey is replicated to the three channels; for 6 channels (HSV+RGB) output channel ``j``
    starts as the mean of input channels ``j`` and ``j + 3``.
    """
    adapter = layers.Conv2D(3, 1, name="colour_adapter")
    y = adapter(x)
    kernel = np.zeros((1, 1, channels, 3), np.float32)
    for i in range(channels):
        for j in range(3):
            if channels == 1 or i % 3 == j:
                kernel[0, 0, i, j] = 1.0 if channels == 1 else 3.0 / channels
    adapter.kernel.assign(kernel)
    return y


def _features_by_stride(features: dict) -> dict[int, object]:
    """``{"P3": t, ...}`` -> ``{8: t, ...}``; keys must be ``P<n>`` (stride ``2**n``)."""
    by_stride = {}
    for key, tensor in features.items():
        if not (isinstance(key, str) and key[:1] == "P" and key[1:].isdigit()):
            raise ValueError(f"encoder output {key!r} is not named P<n> (a feature map at stride 2**n)")
        by_stride[2 ** int(key[1:])] = tensor
    return by_stride


def build_model(cfg: AERNetConfig = BASE, encoder_weights: str | None = CONFIG_WEIGHTS, *,
                input_shape: tuple[int, int, int] | None = None, name: str = "aer_net") -> keras.Model:
    """Build AER-Net (Fig. 3) or one of its table rows from a config.

    Args:
        cfg: the row's configuration (``configs.ROWS[...]``); ``BASE`` is AER-Net itself.
        encoder_weights: override of ``cfg.encoder_weights``: ``None`` (or ``"none"``) for random
            initialisation, ``"imagenet"``, or a path to a weights file; the default ``"config"``
            keeps the config's value.
        input_shape: ``(height, width, channels)``; default ``(*cfg.image_size, cfg.input_channels)``.
            Height and width must be multiples of the encoder's coarsest stride (32 for the backbones,
            16 for the U-Net encoder).
        name: the model's name.

    Returns:
        A ``keras.Model`` mapping ``[B, H, W, C]`` images (each channel scaled to [0, 1], section 3.1)
        to ``[B, H, W, 1]`` lesion probabilities (sigmoid, float32).

    With a backbone encoder, an input of other than 3 channels (HSV+RGB: 6, grey: 1) first passes a
    learned 1x1 convolution to 3 channels (``colour_adapter``) so the ImageNet stem is kept whole; then,
    with ``cfg.encoder_input_scaling``, :class:`ImageNetScaling` puts the [0, 1] channels on the scale
    the encoder's ImageNet weights expect (``common.backbones.preprocessing_mode``).
    """
    weights = cfg.encoder_weights if encoder_weights == CONFIG_WEIGHTS else encoder_weights
    if isinstance(weights, str) and weights.lower() in ("none", "null", ""):
        weights = None
    shape = tuple(input_shape) if input_shape is not None else cfg.input_shape
    inputs = keras.Input(shape, name="image")

    if cfg.encoder == UNET_ENCODER:
        if weights is not None:
            raise ValueError(f"the from-scratch U-Net encoder has no pretrained weights (got {weights!r})")
        encoder = build_unet_encoder(shape, cfg.unet_encoder_filters)
        x = inputs
    else:
        x = inputs
        if shape[-1] != 3:
            x = _colour_adapter(x, shape[-1])
        if cfg.encoder_input_scaling:
            x = ImageNetScaling(preprocessing_mode(cfg.encoder), name="encoder_input_scaling")(x)
        encoder = build_encoder(cfg.encoder, (*shape[:2], 3), weights=weights)
    features = _features_by_stride(encoder(x))

    bottom = max(features)
    levels = int(round(math.log2(bottom)))
    for side in shape[:2]:
        if side is not None and side % bottom:
            raise ValueError(f"input size {shape[:2]} must be a multiple of {bottom} for encoder {cfg.encoder!r}")
    if len(cfg.decoder_filters) != levels:
        raise ValueError(
            f"encoder {cfg.encoder!r} reaches stride {bottom}: decoder_filters needs {levels} widths "
            f"(one per x2 upsampling), got {len(cfg.decoder_filters)}: {cfg.decoder_filters}")

    x = features[bottom]
    for i, width in enumerate(cfg.decoder_filters):
        stride = bottom >> (i + 1)
        coarse = x
        x = layers.Conv2DTranspose(width, 2, strides=2, name=f"decoder{i}_up")(coarse)
        skip = features.get(stride)
        if skip is not None:
            if cfg.use_attention:
                skip = AttentionGate(inter_channels=width, psi_activation=cfg.psi_activation,
                                     name=f"decoder{i}_gate")([skip, coarse])
            x = layers.Concatenate(name=f"decoder{i}_concat")([x, skip])
        x = ResidualBlock(width, shortcut=cfg.use_residual, name=f"decoder{i}_block")(x)

    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)
