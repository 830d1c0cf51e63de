"""Backend-agnostic batch iterators (``keras.utils.PyDataset``) returning numpy arrays.

The order of epoch ``e`` is a pure function of ``(seed, e)`` and the augmentation of the sample at
position ``p`` of epoch ``e`` uses ``numpy.random.default_rng([seed, e, p])``, so a run resumed at
epoch ``e`` (``set_epoch(e)`` or ``epoch=e``) sees exactly the batches it would have seen.
Pass ``shuffle=False`` to ``model.fit``: the order is decided here, and Keras would otherwise
permute the batches with an unseeded generator; add ``batches.epoch_callback()`` to the callbacks to
tie the order to ``fit``'s epoch number (exact under ``initial_epoch`` and ``steps_per_epoch``).
"""
from __future__ import annotations

import math
from typing import Callable

import keras
import numpy as np

from .colour import channels, imagenet_preprocess, to_colour_space


class _Batches(keras.utils.PyDataset):
    """Ordering, augmentation seeding and input conversion shared by the batch iterators."""

    def __init__(self, images_uint8, batch_size: int, *, shuffle=False, seed=0, augment=None,
                 colour_space="rgb", preprocess=None, drop_remainder=False, workers=1, epoch=0):
        super().__init__(workers=workers, use_multiprocessing=False)
        images = images_uint8
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        channels(colour_space)
        if preprocess is not None and not callable(preprocess) and colour_space != "rgb":
            raise ValueError(f"preprocess={preprocess!r} normalises RGB input; it cannot follow "
                             f"colour_space={colour_space!r}")
        if isinstance(preprocess, str):
            imagenet_preprocess(np.zeros((1, 3), np.uint8), preprocess)      # validates the mode
        self.images, self.batch_size = images, int(batch_size)
        self.shuffle, self.seed, self.augment = shuffle, int(seed), augment
        self.colour_space, self.preprocess = colour_space, preprocess
        self.drop_remainder = drop_remainder
        self.epoch = int(epoch)
        self._served, self._unpaired, self._keras, self._in_epoch = False, 0, False, False
        self._cached_order = None
        if len(self) == 0:
            raise ValueError(f"{len(images)} samples make no batch of {batch_size} with drop_remainder=True")

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_remainder else math.ceil(n / self.batch_size)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """Sample indices in the order of ``epoch`` (default: the current epoch)."""
        epoch = self.epoch if epoch is None else int(epoch)
        if not self.shuffle:
            return np.arange(len(self.images))
        cached = self._cached_order                 # one tuple: safe with worker threads
        if cached is None or cached[0] != epoch:
            cached = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.images)))
            self._cached_order = cached
        return cached[1]

    def set_epoch(self, epoch: int) -> None:
        """Continue at ``epoch`` (e.g. when resuming a run)."""
        self.epoch = int(epoch)
        self._served, self._unpaired = False, 0

    def on_epoch_begin(self) -> None:
        """Called by Keras before every epoch (see `on_epoch_end`)."""
        if not self._keras:
            # Keras drives this iterator: undo advances made by its set-up calls of on_epoch_end
            # (fit() calls it once before epoch 0, after the TensorFlow backend peeked at batches)
            self._keras = True
            self.epoch -= self._unpaired
            self._unpaired = 0
        self._in_epoch = True

    def on_epoch_end(self) -> None:
        """Advance to the next epoch.

        Driven by Keras (``on_epoch_begin`` is called), only the end of an epoch that began counts;
        used by hand, a call advances when a batch was requested since the epoch was set.
        """
        if self._keras:
            if self._in_epoch:
                self.epoch += 1
            self._in_epoch = False
        elif self._served:
            self.epoch += 1
            self._unpaired += 1
        self._served = False

    def epoch_callback(self) -> keras.callbacks.Callback:
        """A Keras callback that sets this iterator's epoch to ``fit``'s epoch number at the start
        of every epoch — exact also with ``initial_epoch`` (resume) and ``steps_per_epoch``."""
        batches = self

        class _SyncEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                batches.set_epoch(epoch)

        return _SyncEpoch()

    def _rows(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range (0..{len(self) - 1})")
        self._served = True
        positions = np.arange(i * self.batch_size, min((i + 1) * self.batch_size, len(self.images)))
        return positions, self.order()[positions]

    def _rng(self, position: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(position)])

    def _inputs(self, images: np.ndarray) -> np.ndarray:
        if self.preprocess is None:
            return to_colour_space(images, self.colour_space)
        if callable(self.preprocess):
            return np.asarray(self.preprocess(to_colour_space(images, self.colour_space)), np.float32)
        return imagenet_preprocess(images, self.preprocess)


class SegmentationBatches(_Batches):
    """Batches ``(x float32 [B, H, W, C], y float32 [B, H, W, K])`` of images and masks.

    Args:
        images_uint8: uint8 [N, H, W, 3] RGB (e.g. from `load_arrays`; memory maps are fine).
        masks: uint8 {0,1} [N, H, W, K] (K = 1, or 5 attribute masks) or [N, H, W]; ``None`` yields
            ``x`` only (prediction).
        batch_size: samples per batch (the last batch may be smaller unless ``drop_remainder``).
        shuffle: reshuffle every epoch (order a pure function of ``(seed, epoch)``).
        seed: seed of the order and of the augmentation.
        augment: ``callable(image_uint8 [H,W,3], mask_uint8 [H,W,K], rng) -> (image, mask)``,
            applied per sample before colour conversion, ``rng`` derived from
            ``(seed, epoch, position in the epoch)``. Without masks an empty mask is passed.
        colour_space: one of `COLOUR_SPACES` (``"rgb"``, ``"lab"``, ``"hsv"``, ``"hsv_rgb"``, ``"grey"``).
        preprocess: ``None``, an ImageNet mode (``"torch"``, ``"caffe"``, ``"tf"``, ``"none"``; RGB
            only) or a callable on the converted float batch.
        drop_remainder: drop the last incomplete batch.
        workers: threads Keras uses to prepare batches.
        epoch: the epoch to start at (``set_epoch`` changes it, ``on_epoch_end`` advances it).
    """

    def __init__(self, images_uint8, masks, batch_size, *, shuffle=False, seed=0,
                 augment: Callable | None = None, colour_space="rgb", preprocess=None,
                 drop_remainder=False, workers=1, epoch=0):
        super().__init__(images_uint8, batch_size, shuffle=shuffle, seed=seed, augment=augment,
                         colour_space=colour_space, preprocess=preprocess,
                         drop_remainder=drop_remainder, workers=workers, epoch=epoch)
        if masks is not None:
            if masks.ndim == 3:
                masks = masks[..., None]
            if masks.shape[:3] != self.images.shape[:3]:
                raise ValueError(f"masks {masks.shape} do not match images {self.images.shape}")
        self.masks = masks

    def __getitem__(self, i):
        positions, rows = self._rows(i)
        images = self.images[rows]
        masks = self.masks[rows] if self.masks is not None else None
        if self.augment is not None:
            blank = np.zeros(images.shape[1:3] + (1,), np.uint8)
            pairs = [self.augment(np.array(images[j]), blank.copy() if masks is None else np.array(masks[j]),
                                  self._rng(p)) for j, p in enumerate(positions)]
            images = np.stack([a for a, _ in pairs])
            if masks is not None:
                masks = np.stack([b if b.ndim == 3 else b[..., None] for _, b in pairs])
        x = self._inputs(images)
        if masks is None:
            return x
        return x, masks.astype(np.float32)


class ClassificationBatches(_Batches):
    """Batches ``(x float32 [B, H, W, C], y float32 one-hot [B, n_classes])``.

    Args:
        images_uint8: uint8 [N, H, W, 3] RGB.
        labels: int class per image; ``None`` yields ``x`` only.
        batch_size, shuffle, seed, colour_space, preprocess, drop_remainder, workers, epoch:
            as in `SegmentationBatches`.
        n_classes: width of the one-hot targets (default: max label + 1).
        augment: ``callable(image_uint8, mask_uint8, rng) -> (image, mask)`` — the joint transforms
            of `common.augment` work unchanged (an empty mask is passed and dropped) — or a
            callable returning the image alone.
        sampling: ``"uniform"`` (every image once per epoch) or ``"balanced"`` (with ``shuffle``: each
            epoch draws as many images as there are, with replacement, every class equally likely,
            so a rare class is seen as often as a common one; the draw is a pure function of
            ``(seed, epoch)``).
    """

    SAMPLINGS = ("uniform", "balanced")

    def __init__(self, images_uint8, labels, batch_size, *, n_classes=None, shuffle=False, seed=0,
                 augment: Callable | None = None, colour_space="rgb", preprocess=None,
                 drop_remainder=False, workers=1, epoch=0, sampling="uniform"):
        if sampling not in self.SAMPLINGS:
            raise ValueError(f"sampling must be one of {', '.join(self.SAMPLINGS)}, got {sampling!r}")
        if sampling == "balanced" and labels is None:
            raise ValueError("sampling='balanced' needs the labels")
        self.sampling = sampling
        super().__init__(images_uint8, batch_size, shuffle=shuffle, seed=seed, augment=augment,
                         colour_space=colour_space, preprocess=preprocess,
                         drop_remainder=drop_remainder, workers=workers, epoch=epoch)
        if labels is not None:
            labels = np.asarray(labels).astype(np.int64)
            if labels.shape != (len(self.images),):
                raise ValueError(f"labels {labels.shape} do not match {len(self.images)} images")
            n_classes = int(n_classes or labels.max() + 1)
            if labels.min() < 0 or labels.max() >= n_classes:
                raise ValueError(f"labels must be in 0..{n_classes - 1}")
        self.labels, self.n_classes = labels, n_classes

    def order(self, epoch: int | None = None) -> np.ndarray:
        if self.sampling == "uniform" or not self.shuffle:
            return super().order(epoch)
        epoch = self.epoch if epoch is None else int(epoch)
        cached = self._cached_order
        if cached is None or cached[0] != epoch:
            counts = np.bincount(self.labels, minlength=self.n_classes).astype(np.float64)
            weight = 1.0 / counts[self.labels]
            rng = np.random.default_rng([self.seed, epoch, 1])
            cached = (epoch, rng.choice(len(self.labels), len(self.labels), replace=True, p=weight / weight.sum()))
            self._cached_order = cached
        return cached[1]

    def __getitem__(self, i):
        positions, rows = self._rows(i)
        images = self.images[rows]
        if self.augment is not None:
            blank = np.zeros(images.shape[1:3] + (1,), np.uint8)
            out = []
            for j, p in enumerate(positions):
                res = self.augment(np.array(images[j]), blank.copy(), self._rng(p))
                out.append(res[0] if isinstance(res, tuple) else res)
            images = np.stack(out)
        x = self._inputs(images)
        if self.labels is None:
            return x
        return x, np.eye(self.n_classes, dtype=np.float32)[self.labels[rows]]
