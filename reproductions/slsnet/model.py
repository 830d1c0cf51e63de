"""SLSNet's generator and discriminator (Sarker et al. 2021, Section 3, Fig. 1).

`build_generator(cfg)` is the segmentation network G (the only part used at inference, the
one Tables 3-7 count parameters and MACs of); `build_discriminator(cfg)` is the conditional
PatchGAN D used during adversarial training. The ablations of Table 6 are the config flags
``use_multiscale``, ``use_pam`` and ``use_cam``.
"""
from __future__ import annotations

import math

import keras

from .configs import SLSNetConfig
from .layers import CAM, FAM, PAM, FactorizedConv

__all__ = ["build_generator", "build_discriminator"]

_BN_MOMENTUM = 0.9  # PyTorch's BatchNorm2d momentum 0.1


def size_multiple(cfg: SLSNetConfig) -> int:
    """Image sides must be multiples of this: the generator halves the resolution three times
    (Section 3.1) and the multiscale block downsamples by each of its factors."""
    return math.lcm(8, *cfg.multiscale_factors)


#: bytes a training step holds per float32 attention entry (the energies, their softmax and both
#: gradients, less what is freed on the way): measured with ``--dry-run`` on TensorFlow's CPU
#: allocator, 2.63 GB for a batch of 8 at 128x128
ATTENTION_BYTES_PER_ENTRY = 9.2


def micro_batch(cfg: SLSNetConfig) -> int:
    """The most images one training step should take to fit an 11 GB card: each position-attention
    module holds an (N x N) matrix per image for the N positions of its map (Section 3.2), two at
    half the input's side, so the memory grows with the fourth power of the side. Never below 2:
    the discriminator's update takes half of each batch as real pairs, half as generated ones."""
    from common.training.memory import BUDGET_GB

    if not cfg.use_pam:
        return max(2, cfg.batch_size)
    h, w = cfg.image_size
    sides = [2, 4, 8, 8] + [8 // 2 ** g for g in range(1, len(cfg.decoder_widths) + 1)]
    entries = sum(((h // f) * (w // f)) ** 2 for f in sides if f >= 1)
    per_image = ATTENTION_BYTES_PER_ENTRY * entries
    return max(2, int(BUDGET_GB * 1e9 // per_image))


def _bn(name):
    return keras.layers.BatchNormalization(momentum=_BN_MOMENTUM, name=name)


def _conv_bn_relu(x, filters, *, kernel_size=3, strides=1, name):
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                            name=f"{name}_conv")(x)
    x = _bn(f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _multiscale_block(image, cfg: SLSNetConfig):
    """Multiscale block (Section 3.1, Fig. 1 left).

    The image at each scale 1/f of ``cfg.multiscale_factors`` (area downsampling) goes through
    a 3x3 convolution (+ BN + ReLU) and a CAM; the coarse maps are upsampled bilinearly to the
    input size and the four maps are averaged.
    """
    branches = []
    for factor in cfg.multiscale_factors:
        name = f"multiscale_{factor}"
        x = image
        if factor > 1:
            x = keras.layers.AveragePooling2D(factor, name=f"{name}_down")(x)
        x = _conv_bn_relu(x, cfg.multiscale_width, name=name)
        if cfg.use_cam:
            x = CAM(name=f"{name}_cam")(x)
        if factor > 1:
            x = keras.layers.UpSampling2D(factor, interpolation="bilinear", name=f"{name}_up")(x)
        branches.append(x)
    if len(branches) == 1:
        return branches[0]
    return keras.layers.Average(name="multiscale_average")(branches)


def _pam(x, cfg: SLSNetConfig, name):
    return PAM(reduction=cfg.pam_reduction, name=name)(x) if cfg.use_pam else x


def build_generator(cfg: SLSNetConfig) -> keras.Model:
    """The SLSNet generator G (Section 3.1-3.2, Fig. 1 top).

    Encoder (Section 3.1): the multiscale block (16 channels at full size; ``use_multiscale``);
    two downsampling-attention layers, each a 3x3 convolution (+ BN + ReLU), a 2x2 max-pooling
    and a PAM (eqs. 3-4); four FAMs (Fig. 4); a downsampling layer (3x3 convolution, stride 2)
    and a PAM; eight FAMs; a 1-D kernel factorized layer (eqs. 5-6) whose output goes through a
    CAM branch (eqs. 1-2) and a PAM branch that are summed. At 128 x 128 the bottleneck is
    16 x 16 (Section 4.4).

    Decoder (Section 3.2): two groups of an upsampling layer (3x3 transposed convolution,
    stride 2, + BN + ReLU), the noise ``z`` as dropout (Section 3.4), a PAM and two FAMs; a
    final 3x3 stride-2 transposed convolution to the input size with a sigmoid (1 channel).

    Ablations (Table 6): ``use_pam=False`` removes every PAM (the branch too),
    ``use_cam=False`` turns FAMs into plain factorized layers and removes every CAM,
    ``use_multiscale=False`` feeds the image straight to the first downsampling layer.

    Args:
        cfg: the row's `SLSNetConfig` (``image_size``, ``in_channels``, widths, flags).

    Returns:
        A `keras.Model` named ``slsnet_generator`` mapping ``[B, S, S, in_channels]`` images to
        ``[B, S, S, 1]`` lesion probabilities (float32).
    """
    size = cfg.image_size[0]                      # square (SLSNetConfig checks it)
    if size % size_multiple(cfg):
        raise ValueError(f"image size {size} must be a multiple of {size_multiple(cfg)} for SLSNet's generator")
    image = keras.Input((size, size, cfg.in_channels), name="image")
    x = _multiscale_block(image, cfg) if cfg.use_multiscale else image

    # Encoder: two downsampling-attention layers (conv, 2x2 max-pool, PAM).
    for index, width in enumerate(cfg.widths[:2], start=1):
        x = _conv_bn_relu(x, width, name=f"down{index}")
        x = keras.layers.MaxPooling2D(2, name=f"down{index}_pool")(x)
        x = _pam(x, cfg, f"down{index}_pam")
    for index in range(cfg.num_fams[0]):
        x = FAM(use_cam=cfg.use_cam, name=f"fam1_{index + 1}")(x)
    x = _conv_bn_relu(x, cfg.widths[2], strides=2, name="down3")
    x = _pam(x, cfg, "down3_pam")
    for index, dilation in enumerate(cfg.fam_dilations):
        x = FAM(dilation=dilation, use_cam=cfg.use_cam, name=f"fam2_{index + 1}")(x)

    # Factorized layer, then a CAM branch and a PAM branch, summed.
    x = FactorizedConv(name="bottleneck_factorized")(x)
    branches = []
    if cfg.use_cam:
        branches.append(CAM(name="bottleneck_cam")(x))
    if cfg.use_pam:
        branches.append(PAM(reduction=cfg.pam_reduction, name="bottleneck_pam")(x))
    if len(branches) == 2:
        x = keras.layers.Add(name="bottleneck_sum")(branches)
    elif branches:
        x = branches[0]

    # Decoder: two groups (upsampling, PAM, two FAMs), then the output upsampling.
    for group, width in enumerate(cfg.decoder_widths, start=1):
        name = f"up{group}"
        x = keras.layers.Conv2DTranspose(width, 3, strides=2, padding="same",
                                         name=f"{name}_deconv")(x)
        x = _bn(f"{name}_bn")(x)
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, name=f"{name}_noise")(x)
        x = _pam(x, cfg, f"{name}_pam")
        for index in range(cfg.decoder_fams):
            x = FAM(use_cam=cfg.use_cam, name=f"{name}_fam{index + 1}")(x)
    mask = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", name="output_deconv")(x)
    mask = keras.layers.Activation("sigmoid", dtype="float32", name="mask")(mask)
    return keras.Model(image, mask, name="slsnet_generator")


def build_discriminator(cfg: SLSNetConfig) -> keras.Model:
    """The SLSNet discriminator D (Section 3.3, Fig. 1 bottom).

    Conditioned as pix2pix's: the image and a (real or generated) mask are concatenated.
    Three 4x4 stride-2 convolutions with LeakyReLU(0.2), batch normalisation on the second and
    third (pix2pix), a PAM after the second and a CAM after the third (Section 3.3; the flags
    ``use_pam`` / ``use_cam`` drop them as Table 6's rows do), and a final 4x4 stride-1
    convolution with a sigmoid. The output is a PatchGAN map of ``S/8 x S/8`` real/fake
    probabilities (16 x 16 at 128 x 128), each judging one receptive field.

    Args:
        cfg: the row's `SLSNetConfig` (``image_size``, ``in_channels``, ``disc_widths``).

    Returns:
        A `keras.Model` named ``slsnet_discriminator`` taking ``[image, mask]`` and returning
        ``[B, S/8, S/8, 1]`` probabilities (float32).
    """
    size = cfg.image_size[0]                      # square (SLSNetConfig checks it)
    image = keras.Input((size, size, cfg.in_channels), name="image")
    mask = keras.Input((size, size, 1), name="mask")
    x = keras.layers.Concatenate(name="condition")([image, mask])
    for index, width in enumerate(cfg.disc_widths, start=1):
        name = f"disc{index}"
        x = keras.layers.Conv2D(width, 4, strides=2, padding="same", name=f"{name}_conv")(x)
        if index > 1:
            x = _bn(f"{name}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"{name}_lrelu")(x)
        if index == 2 and cfg.use_pam:
            x = PAM(reduction=cfg.pam_reduction, name=f"{name}_pam")(x)
        if index == 3 and cfg.use_cam:
            x = CAM(name=f"{name}_cam")(x)
    x = keras.layers.Conv2D(1, 4, padding="same", name="patch_conv")(x)
    patches = keras.layers.Activation("sigmoid", dtype="float32", name="patches")(x)
    return keras.Model([image, mask], patches, name="slsnet_discriminator")
