"""Segmentation, classification and adversarial losses of the reproduced papers (keras.ops only).

Every loss is a plain function ``(y_true, y_pred) -> scalar``: overlap terms (Dice, Jaccard) are
computed per image from sums over H, W and C, pixel terms (BCE, L1) are per-pixel means, and the
result is the mean over the batch. ``y_pred`` holds probabilities (after a sigmoid or softmax);
logarithms clip it to ``[eps, 1 - eps]`` with ``eps = keras.config.epsilon()`` (1e-7).
All functions are registered serializable (package "common"), so a model compiled with them
saves and loads; :func:`get_loss` maps a name to a loss.

Smoothing constants: the transfer ensemble gives them (eq. 1: alpha = beta = 1; eq. 3: alpha = 0,
beta = 1). AER-Net eq. 1, SLSNet eq. 9 and ASNet eq. 3 give none; we add 1.0 to numerator and
denominator (the usual Keras choice). With per-image sums over thousands of pixels it hardly changes
the value, and it makes a correctly empty prediction of an empty mask cost 0 instead of 0/0.
"""
from __future__ import annotations

from typing import Callable

import keras
from keras import ops

_register = keras.saving.register_keras_serializable(package="common")


def _prepare(y_true, y_pred):
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    y_true = ops.reshape(ops.cast(ops.convert_to_tensor(y_true), "float32"), ops.shape(y_pred))
    return y_true, y_pred


def _image_sum(x):
    """Sum over every axis but the batch axis."""
    return ops.sum(x, axis=tuple(range(1, len(x.shape))))


def _image_mean(x):
    return ops.mean(x, axis=tuple(range(1, len(x.shape))))


def _clip(p):
    eps = keras.config.epsilon()
    return ops.clip(p, eps, 1.0 - eps)


def _pixel_bce(y_true, y_pred, from_logits=False):
    if from_logits:
        # log(sigmoid(x)) and log(1 - sigmoid(x)) written stably
        return ops.maximum(y_pred, 0.0) - y_pred * y_true + ops.log1p(ops.exp(-ops.abs(y_pred)))
    p = _clip(y_pred)
    return -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))


@_register
def bce(y_true, y_pred, from_logits: bool = False):
    """Binary cross-entropy, mean over pixels and batch: -[y log p + (1 - y) log(1 - p)].

    Args:
        y_true: targets in [0, 1], any shape [B, ...].
        y_pred: probabilities (or logits with ``from_logits=True``), same shape.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    return ops.mean(_pixel_bce(y_true, y_pred, from_logits))


@_register
def categorical_ce(y_true, y_pred, from_logits: bool = False):
    """Categorical cross-entropy -sum_k y_k log p_k over the last axis, mean over the rest.

    Args:
        y_true: one-hot (or soft) targets [B, ..., K].
        y_pred: softmax probabilities (or logits with ``from_logits=True``) [B, ..., K].
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if from_logits:
        log_p = ops.log_softmax(y_pred, axis=-1)
    else:
        log_p = ops.log(_clip(y_pred / ops.sum(y_pred, axis=-1, keepdims=True)))
    return ops.mean(-ops.sum(y_true * log_p, axis=-1))


@_register
def l1_loss(y_true, y_pred, reduction: str = "mean"):
    """L1 distance |y - p| (the L1 term of SLSNet eq. 7), mean over the batch.

    ``reduction`` says how each image's pixels are reduced: "mean" (the mean absolute error,
    Keras's and PyTorch's default) or "sum" (the sum over the image's pixels: H * W times the mean,
    so a weight on it means H * W times as much).
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"l1_loss: reduction {reduction!r} is not 'mean' or 'sum'")
    y_true, y_pred = _prepare(y_true, y_pred)
    if reduction == "mean":
        return ops.mean(ops.abs(y_true - y_pred))
    return ops.mean(_image_sum(ops.abs(y_true - y_pred)))


@_register
def dice_loss(y_true, y_pred, smooth: float = 1.0):
    """Dice loss with squared denominators (AER-Net eq. 1; Milletari et al. 2016).

    DCL = 1 - (2 sum p g + s) / (sum p^2 + sum g^2 + s), sums over each image's pixels, mean over
    the batch. The paper gives no smoothing; ``smooth`` s = 1 is our choice (see module docstring).
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    inter = _image_sum(y_true * y_pred)
    denom = _image_sum(ops.square(y_pred)) + _image_sum(ops.square(y_true))
    return ops.mean(1.0 - (2.0 * inter + smooth) / (denom + smooth))


@_register
def soft_jaccard_loss(y_true, y_pred, alpha: float = 1.0, beta: float = 1.0, reduction: str = "image"):
    """Jaccard loss with squared terms (SLSNet eq. 9; the transfer ensemble's eq. 3 form).

    L = 1 - (sum g p + alpha) / (sum g^2 + sum p^2 - sum g p + beta). With ``reduction="image"``
    the sums run over each image's pixels and the losses are averaged over the batch; with
    "batch" the sums run over every pixel of the batch (one Jaccard for the whole batch, as a
    loss written over flattened tensors computes it). SLSNet gives no smoothing; alpha = beta = 1
    is our choice (see module docstring).
    """
    if reduction not in ("image", "batch"):
        raise ValueError(f"soft_jaccard_loss: reduction {reduction!r} is not 'image' or 'batch'")
    y_true, y_pred = _prepare(y_true, y_pred)
    total = _image_sum if reduction == "image" else ops.sum
    inter = total(y_true * y_pred)
    denom = total(ops.square(y_true)) + total(ops.square(y_pred)) - inter
    return ops.mean(1.0 - (inter + alpha) / (denom + beta))


@_register
def squared_jaccard_loss(y_true, y_pred):
    """Attribute loss of the transfer ensemble (eq. 3): :func:`soft_jaccard_loss`, alpha=0, beta=1.

    alpha = 0 keeps the network from being rewarded for all-zero predictions (the paper, after [12]).
    """
    return soft_jaccard_loss(y_true, y_pred, alpha=0.0, beta=1.0)


@_register
def jaccard_bce_loss(y_true, y_pred, alpha: float = 1.0, beta: float = 1.0):
    """Lesion loss of the transfer ensemble (eq. 1): soft Jaccard + binary cross-entropy.

    L = 1 - (sum yt yp + alpha) / (sum yt + sum yp - sum yt yp + beta) + BCE, alpha = beta = 1.
    The printed eq. 1 has "+ sum yt yp" in the Jaccard denominator and no minus sign before the
    cross-entropy sum; both are typos (as printed the loss is not minimised by the truth), so the
    soft Jaccard |A n B| / (|A| + |B| - |A n B|) and the usual BCE = -(1/N) sum [...] are used.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    inter = _image_sum(y_true * y_pred)
    denom = _image_sum(y_true) + _image_sum(y_pred) - inter
    jaccard_term = 1.0 - (inter + alpha) / (denom + beta)
    return ops.mean(jaccard_term + _image_mean(_pixel_bce(y_true, y_pred)))


@_register
def dice_ce_loss(y_true, y_pred, ce_weight: float = 0.5, smooth: float = 1.0):
    """ASNet's joint loss (eq. 3): 0.5 * binary cross-entropy + Dice loss.

    Eq. 3 reads L = -(1/N) sum_i (1/2 P_i log P'_i + 2 P_i P'_i / (P_i + P'_i)); the text calls it
    "Dice loss and cross-entropy loss" ("binary cross-entropy loss and Dice coefficient loss" in the
    conclusion). We implement 0.5 * BCE + (1 - (2 sum P P' + s) / (sum P + sum P' + s)) per image:
    the Dice term over the image (the per-pixel form printed is not a Dice loss) and the full
    binary cross-entropy; the constant 1 only makes the loss non-negative. The paper gives no
    smoothing; s = 1 is our choice.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    inter = _image_sum(y_true * y_pred)
    denom = _image_sum(y_true) + _image_sum(y_pred)
    dice_term = 1.0 - (2.0 * inter + smooth) / (denom + smooth)
    return ops.mean(ce_weight * _image_mean(_pixel_bce(y_true, y_pred)) + dice_term)


@_register
def adversarial_bce(y_true, y_pred, from_logits: bool = False):
    """Binary cross-entropy of discriminator outputs (a PatchGAN map or one score per image)
    against a constant target (1 real, 0 fake), mean over all outputs. Used by SLSNet eqs. 7, 11."""
    return bce(y_true, y_pred, from_logits=from_logits)


def generator_adversarial_loss(d_fake, from_logits: bool = False):
    """Adversarial term of the generator (SLSNet eq. 7): E[-log D(x, G(x, z))].

    Args:
        d_fake: discriminator outputs on generated masks, probabilities (or logits).
    """
    d_fake = ops.convert_to_tensor(d_fake)
    return adversarial_bce(ops.ones_like(d_fake), d_fake, from_logits=from_logits)


def discriminator_loss(d_real, d_fake, from_logits: bool = False):
    """Discriminator loss (SLSNet eq. 11): E[-log D(x, y)] + E[-log(1 - D(x, G(x, z)))].

    Args:
        d_real: discriminator outputs on (image, ground truth) pairs (target 1).
        d_fake: discriminator outputs on (image, generated mask) pairs (target 0).
    """
    d_real = ops.convert_to_tensor(d_real)
    d_fake = ops.convert_to_tensor(d_fake)
    return (adversarial_bce(ops.ones_like(d_real), d_real, from_logits=from_logits)
            + adversarial_bce(ops.zeros_like(d_fake), d_fake, from_logits=from_logits))


def slsnet_generator_loss(y_true, y_pred, d_fake, lam: float = 0.1, alpha: float = 0.5,
                          from_logits: bool = False):
    """Full generator loss of SLSNet (eq. 7): adversarial + lam * L1 + alpha * Jaccard loss (eq. 9).

    Args:
        y_true, y_pred: ground-truth and generated masks [B, H, W, 1].
        d_fake: discriminator outputs on the generated masks.
        lam, alpha: the paper's weights (lambda = 0.1 for L1, alpha = 0.5 for the Jaccard loss).
    """
    return (generator_adversarial_loss(d_fake, from_logits=from_logits)
            + lam * l1_loss(y_true, y_pred) + alpha * soft_jaccard_loss(y_true, y_pred))


LOSSES: dict[str, Callable] = {
    "dice": dice_loss,
    "soft_jaccard": soft_jaccard_loss,
    "jaccard_bce": jaccard_bce_loss,
    "squared_jaccard": squared_jaccard_loss,
    "dice_ce": dice_ce_loss,
    "bce": bce,
    "categorical_ce": categorical_ce,
    "l1": l1_loss,
    "adversarial_bce": adversarial_bce,
}


def list_losses() -> list[str]:
    return sorted(LOSSES)


def get_loss(name: str, **kwargs) -> Callable:
    """Loss function by name (``LOSSES`` keys; a ``_loss`` suffix and ``-`` for ``_`` are accepted).

    Args:
        name: e.g. "dice", "jaccard_bce", "squared-jaccard", "dice_ce_loss".
        **kwargs: fixed keyword arguments (e.g. ``smooth=1e-5``); the returned closure is then not
            registered, so load such a model with ``compile=False`` or ``custom_objects``.
    """
    key = name.strip().lower().replace("-", "_")
    if key not in LOSSES and key.endswith("_loss"):
        key = key[: -len("_loss")]
    if key not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(list_losses())}")
    fn = LOSSES[key]
    if not kwargs:
        return fn

    def loss(y_true, y_pred):
        return fn(y_true, y_pred, **kwargs)

    loss.__name__ = f"{fn.__name__}_" + "_".join(f"{k}{v}" for k, v in sorted(kwargs.items()))
    return loss
