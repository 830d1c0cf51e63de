"""ASNet and the other Table 2 models (Zhu et al. 2020, section 2.1, Fig. 2).

`build_model(cfg)` maps an image [B, H, W, 3] to a lesion probability map [B, H, W, 1] (sigmoid):

* `architecture="encoder_unet"` (Baseline, its ASM ablations, Baseline_Wide, ASNet): the encoder
  (ResNet34, `common.backbones`, nested as the sub-model "encoder") gives P1..P5; the adaptive
  scale module (`use_asm`) transforms P5; a decoder of five stages, each bilinear x2 up-sampling ->
  concatenation with the encoder skip (P4, P3, P2, P1, none at full resolution) ->
  `decoder_convs` x (3x3 conv + BN + ReLU) -> `decoder_residual_blocks[i]` basic residual blocks
  (Baseline_Wide only), then a 1x1 convolution and a sigmoid.
* `architecture="unet"`: the U-Net of Ronneberger et al. (2015) that Table 2 compares with.
"""
from __future__ import annotations

import keras

from common.backbones import build_encoder, unet
from common.backbones.blocks import conv_bn_relu, residual_block, sigmoid_head

from .configs import Config
from .layers import adaptive_scale_module

__all__ = ["build_model", "build_encoder_unet", "build_unet"]


_conv_bn_relu = conv_bn_relu
_residual_block = residual_block
_head = sigmoid_head


def size_multiple(cfg: Config) -> int:
    """Image sides must be multiples of this: the network's coarsest stride (32 for the pretrained
    encoders; 2 to the number of poolings for the plain U-Net)."""
    return 2 ** (len(cfg.unet_filters) - 1) if cfg.architecture == "unet" else 32


def _check_size(cfg: Config):
    multiple = size_multiple(cfg)
    height, width = cfg.image_size
    if height % multiple or width % multiple:
        raise ValueError(f"image_size {cfg.image_size} must be divisible by {multiple} for {cfg.architecture}")


def build_encoder_unet(cfg: Config) -> keras.Model:
    """The pretrained-encoder U-shape network, with or without the ASM (section 2.1, Fig. 2).

    Args:
        cfg: a `Config`; uses encoder, encoder_weights, image_size, decoder_filters, decoder_convs,
            decoder_residual_blocks, use_asm, asm_dilation_rates, asm_fusion, sam_channels,
            asm_beta_init.

    Returns:
        keras.Model "asnet" (or "baseline" without the ASM): [B, H, W, 3] -> [B, H, W, 1] sigmoid.
    """
    _check_size(cfg)
    height, width = cfg.image_size
    if len(cfg.decoder_filters) != 5 or len(cfg.decoder_residual_blocks) != 5:
        raise ValueError("decoder_filters and decoder_residual_blocks need one entry per decoder stage (5)")
    inputs = keras.Input((height, width, 3), name="image")
    encoder = build_encoder(cfg.encoder, (height, width, 3), weights=cfg.encoder_weights, model_name="encoder")
    features = encoder(inputs)
    x = features["P5"]
    if cfg.use_asm:
        x = adaptive_scale_module(
            x,
            dilation_rates=cfg.asm_dilation_rates,
            fusion=cfg.asm_fusion,
            sam_channels=cfg.sam_channels,
            beta_init=cfg.asm_beta_init,
            name="asm",
        )
    skips = [features["P4"], features["P3"], features["P2"], features["P1"], None]
    for stage, (filters, skip, blocks) in enumerate(
        zip(cfg.decoder_filters, skips, cfg.decoder_residual_blocks), start=1
    ):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"decoder{stage}_up")(x)
        if skip is not None:
            x = keras.layers.Concatenate(name=f"decoder{stage}_concat")([x, skip])
        for k in range(cfg.decoder_convs):
            x = _conv_bn_relu(x, filters, name=f"decoder{stage}_{k + 1}")
        for k in range(blocks):
            x = _residual_block(x, filters, name=f"decoder{stage}_res{k + 1}")
    return keras.Model(inputs, _head(x), name="asnet" if cfg.use_asm else "baseline")


def build_unet(cfg: Config) -> keras.Model:
    """The U-Net row of Table 2 (Ronneberger et al. 2015), trained from scratch: the suite's shared
    :func:`common.backbones.unet.build_unet` with widths ``cfg.unet_filters`` (64 ... 1024 as the
    original).

    Args:
        cfg: a `Config` with architecture "unet"; uses image_size and unet_filters.

    Returns:
        keras.Model "unet": [B, H, W, 3] -> [B, H, W, 1] sigmoid.
    """
    _check_size(cfg)
    return unet.build_unet(cfg.image_size, cfg.unet_filters, name="unet")


def build_model(cfg: Config) -> keras.Model:
    """Build the model of one Table 2 row.

    Args:
        cfg: a `Config` (e.g. `configs.ROWS["ASNet"]`).

    Returns:
        keras.Model mapping [B, H, W, 3] (H, W = cfg.image_size) to [B, H, W, 1] probabilities.
    """
    if cfg.architecture == "encoder_unet":
        return build_encoder_unet(cfg)
    if cfg.architecture == "unet":
        if cfg.use_asm:
            raise ValueError("the plain U-Net row has no adaptive scale module: set use_asm=False")
        return build_unet(cfg)
    raise ValueError(f"architecture must be 'encoder_unet' or 'unet', got {cfg.architecture!r}")
