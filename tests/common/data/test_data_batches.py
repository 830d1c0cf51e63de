"""SegmentationBatches / ClassificationBatches: shapes, determinism per epoch, Keras fit."""
from __future__ import annotations

import numpy as np
import pytest

from common.data import ClassificationBatches, SegmentationBatches, synthetic


@pytest.fixture(scope="module")
def data():
    return synthetic.generate(10, (32, 32), seed=0)


def flip(image, mask, rng):
    """A joint augmentation: horizontal flip with probability 1/2."""
    if rng.random() < 0.5:
        return image[:, ::-1], mask[:, ::-1]
    return image, mask


def test_shapes_and_types(data):
    images, masks, _ = data
    b = SegmentationBatches(images, masks, 4, colour_space="hsv_rgb")
    assert len(b) == 3
    x, y = b[0]
    assert x.dtype == np.float32 and x.shape == (4, 32, 32, 6) and y.dtype == np.float32 and y.shape == (4, 32, 32, 1)
    assert b[2][0].shape[0] == 2                                       # remainder batch
    assert len(SegmentationBatches(images, masks, 4, drop_remainder=True)) == 2
    assert SegmentationBatches(images, None, 4)[0].shape == (4, 32, 32, 3)  # prediction: x only
    xp, _ = SegmentationBatches(images, masks, 4, preprocess="torch")[0]
    assert xp.min() < -1.5                                             # ImageNet-normalised
    with pytest.raises(ValueError, match="cannot follow colour_space='lab'"):
        SegmentationBatches(images, masks, 4, colour_space="lab", preprocess="caffe")


def test_order_is_a_function_of_seed_and_epoch(data):
    images, masks, _ = data
    a = SegmentationBatches(images, masks, 3, shuffle=True, seed=5, augment=flip)
    first = [a[i] for i in range(len(a))]
    a.on_epoch_end()
    second = [a[i] for i in range(len(a))]
    assert a.epoch == 1 and not all(np.array_equal(p[0], q[0]) for p, q in zip(first, second))
    resumed = SegmentationBatches(images, masks, 3, shuffle=True, seed=5, augment=flip, epoch=1)
    assert all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1])
               for p, q in zip(second, (resumed[i] for i in range(len(resumed)))))
    resumed.set_epoch(0)
    assert np.array_equal(resumed[1][0], first[1][0])
    assert sorted(a.order(7).tolist()) == list(range(10))
    assert np.array_equal(SegmentationBatches(images, masks, 3).order(4), np.arange(10))


def test_augmentation_applied_jointly(data):
    images, masks, _ = data
    b = SegmentationBatches(images, masks, 10, augment=lambda i, m, rng: (i[::-1], m[::-1]))
    x, y = b[0]
    assert np.allclose(x, images[:, ::-1] / 255.0, atol=1e-6) and np.array_equal(y, masks[:, ::-1])


def test_classification_batches(data):
    images, _, labels = data
    b = ClassificationBatches(images, labels, 4, n_classes=3, shuffle=True, seed=1, augment=flip)
    x, y = b[1]
    assert x.shape == (4, 32, 32, 3) and y.shape == (4, 3) and np.allclose(y.sum(1), 1)
    rows = b.order()[4:8]
    assert np.array_equal(y.argmax(1), labels[rows])
    b2 = ClassificationBatches(images, labels, 4, n_classes=3, augment=lambda im, mask, rng: im[::-1])
    assert np.allclose(b2[0][0], images[:4, ::-1] / 255.0, atol=1e-6)


def test_balanced_sampling_sees_every_class_equally_often():
    """90 images of class 0, 10 of class 1: uniform epochs show class 1 a tenth of the time,
    balanced ones about half, drawn as a pure function of (seed, epoch)."""
    images = np.zeros((100, 4, 4, 3), np.uint8)
    labels = np.array([0] * 90 + [1] * 10)
    b = ClassificationBatches(images, labels, 10, n_classes=2, shuffle=True, seed=3, sampling="balanced")
    drawn = np.concatenate([b.order(e) for e in range(40)])
    assert len(b.order(0)) == 100 and len(b) == 10
    assert abs(np.mean(labels[drawn] == 1) - 0.5) < 0.03
    assert set(drawn[labels[drawn] == 1]) == set(range(90, 100))
    again = ClassificationBatches(images, labels, 10, n_classes=2, shuffle=True, seed=3, sampling="balanced")
    assert np.array_equal(again.order(5), b.order(5)) and not np.array_equal(b.order(5), b.order(6))
    x, y = b[0]
    assert np.array_equal(y.argmax(1), labels[b.order(0)[:10]])
    plain = ClassificationBatches(images, labels, 10, n_classes=2, shuffle=False, sampling="balanced")
    assert np.array_equal(plain.order(), np.arange(100))              # validation: every image once
    with pytest.raises(ValueError, match="sampling must be one of"):
        ClassificationBatches(images, labels, 10, sampling="weighted")
    with pytest.raises(ValueError, match="needs the labels"):
        ClassificationBatches(images, None, 10, sampling="balanced")


def test_keras_fit_one_epoch(data):
    import keras
    images, masks, _ = data
    train = SegmentationBatches(images, masks, 2, shuffle=True, seed=0, augment=flip, colour_space="lab",
                                workers=2)
    model = keras.Sequential([keras.Input((32, 32, 3)),
                              keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                              keras.layers.Conv2D(1, 1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(train, epochs=1, shuffle=False, verbose=0, callbacks=[train.epoch_callback()])
    assert np.isfinite(history.history["loss"][0]) and train.epoch == 1
    assert model.predict(SegmentationBatches(images, None, 4), verbose=0).shape == (10, 32, 32, 1)


def test_fit_sees_epochs_in_order(data):
    import keras
    images, masks, _ = data
    seen = []

    class Recording(SegmentationBatches):
        def __getitem__(self, i):
            seen.append(self.epoch)
            return super().__getitem__(i)

    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(1, 1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    batches = Recording(images, masks, 5, shuffle=True)
    model.fit(batches, epochs=3, shuffle=False, verbose=0)
    assert seen[-6:] == [0, 0, 1, 1, 2, 2] and batches.epoch == 3
