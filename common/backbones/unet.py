"""The original U-Net (Ronneberger et al. 2015), trained from scratch, as several papers' baseline row.

ASNet's Table 2 "U-Net" row and the thesis's U-Net build it here. Each level is two 3x3
conv + BN + ReLU ('same' padding, so the output has the input's size, and BN, which the 2015
network predates); 2x2 max pooling down, 2x2 transposed convolutions up, skip connections by
concatenation, a 1x1 convolution and a sigmoid. (AER-Net's "U-Net" rows keep their own encoder:
they share AER-Net's decoder so that its ablation changes one thing at a time.)
"""
from __future__ import annotations

from typing import Sequence

import keras

from common.backbones.blocks import conv_bn_relu, sigmoid_head


def build_unet(image_size: Sequence[int], filters: Sequence[int] = (64, 128, 256, 512, 1024),
               in_channels: int = 3, name: str = "unet") -> keras.Model:
    """The U-Net: ``len(filters) - 1`` poolings, widths ``filters`` (64 ... 1024 as the original).

    Args:
        image_size: ``(height, width)``; both multiples of ``2 ** (len(filters) - 1)``.
        filters: channels per level, finest first; the last is the bottom of the U.
        in_channels: input channels.
        name: the model's name.

    Returns:
        keras.Model: [B, H, W, C] -> [B, H, W, 1] sigmoid.
    """
    depth = len(filters) - 1
    height, width = (int(v) for v in image_size)
    if height % 2 ** depth or width % 2 ** depth:
        raise ValueError(f"image_size {tuple(image_size)} must be divisible by {2 ** depth} for a U-Net "
                         f"of {depth} poolings")
    inputs = keras.Input((height, width, in_channels), name="image")
    x = inputs
    skips = []
    for level, width_ in enumerate(filters[:-1], start=1):
        x = conv_bn_relu(x, width_, name=f"down{level}_1")
        x = conv_bn_relu(x, width_, name=f"down{level}_2")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    x = conv_bn_relu(x, filters[-1], name="bottom_1")
    x = conv_bn_relu(x, filters[-1], name="bottom_2")
    for level in range(depth, 0, -1):
        width_ = filters[level - 1]
        x = keras.layers.Conv2DTranspose(width_, 2, strides=2, name=f"up{level}_upconv")(x)
        x = keras.layers.Concatenate(name=f"up{level}_concat")([skips[level - 1], x])
        x = conv_bn_relu(x, width_, name=f"up{level}_1")
        x = conv_bn_relu(x, width_, name=f"up{level}_2")
    return keras.Model(inputs, sigmoid_head(x), name=name)
