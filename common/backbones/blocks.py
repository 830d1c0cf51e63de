"""Convolution blocks the papers' decoders share: conv-BN-ReLU, the basic residual block, a sigmoid head."""
from __future__ import annotations

import keras


def conv_bn_relu(x, filters: int, name: str, kernel_size: int = 3, kernel_initializer: str = "he_normal"):
    """``kernel_size`` convolution ('same' padding, no bias), batch normalisation, ReLU.

    Layers are named ``<name>_conv``, ``<name>_bn``, ``<name>_relu``.
    """
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False,
                            kernel_initializer=kernel_initializer, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def residual_block(x, filters: int, name: str):
    """Basic residual block (He et al. 2016): conv-BN-ReLU-conv-BN + identity, ReLU."""
    y = conv_bn_relu(x, filters, name=f"{name}_a")
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
                            name=f"{name}_b_conv")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_b_bn")(y)
    y = keras.layers.Add(name=f"{name}_add")([x, y])
    return keras.layers.Activation("relu", name=f"{name}_relu")(y)


def sigmoid_head(x, name: str = "mask"):
    """1x1 convolution to one map and a float32 sigmoid (kept float32 under mixed precision)."""
    x = keras.layers.Conv2D(1, 1, name="head_conv")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name=name)(x)
