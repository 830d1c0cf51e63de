"""ResNet18/34 encoders written with `keras.layers`, layer for layer the `image-classifiers` ResNets.

`image-classifiers` (qubvel/classification_models, the package `segmentation-models` takes its
ResNet encoders from) publishes ImageNet weights converted from MXNet for a pre-activation style
ResNet18/34 (He et al. 2016, basic blocks):

    data -> bn_data (BatchNormalization without scale: it normalises raw 0-255 RGB pixels)
         -> ZeroPadding2D(3) -> conv0 (7x7/2, 64, no bias) -> bn0 -> relu0
         -> ZeroPadding2D(1) -> pooling0 (MaxPool 3x3/2, 'valid')
         -> stages 1..4 of basic blocks (64, 128, 256, 512 filters; 2-2-2-2 or 3-4-6-3 units)
         -> bn1 -> relu1

    unit (stage s, unit u), BN/ReLU before each convolution:
        x -> stage{s}_unit{u}_bn1 -> stage{s}_unit{u}_relu1 -> pad 1 -> stage{s}_unit{u}_conv1 (3x3, stride)
          -> stage{s}_unit{u}_bn2 -> stage{s}_unit{u}_relu2 -> pad 1 -> stage{s}_unit{u}_conv2 (3x3)
          + shortcut: the input x itself, or, in the first unit of a stage,
            stage{s}_unit{u}_sc (1x1 conv, stride) applied to relu1's output.

Convolutions have no bias and `he_uniform` initialisation; BatchNormalization uses momentum 0.99
and epsilon 2e-5, exactly as that package. The layer names are the package's, so its weight files
map onto this model by name (`load_image_classifiers_weights`), on any Keras backend.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import keras
import numpy as np

__all__ = [
    "IMAGE_CLASSIFIERS_WEIGHTS",
    "RESNET_FEATURE_LAYERS",
    "RESNET_REPETITIONS",
    "build_resnet",
    "image_classifiers_weight_arrays",
    "load_image_classifiers_weights",
]

RESNET_REPETITIONS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}

# P1..P5: the ReLU at each stride, i.e. the normalised output of the stem (P1), and of stages 1-3
# as the next stage's first unit pre-activates it (P2-P4), and the final bn1/relu1 (P5).
# These are the layers segmentation-models' U-Net takes from the same encoders.
RESNET_FEATURE_LAYERS = (
    "relu0",
    "stage2_unit1_relu1",
    "stage3_unit1_relu1",
    "stage4_unit1_relu1",
    "relu1",
)

# The published no-top ImageNet weights of image-classifiers 1.0.0 (file name, URL, md5), as listed in
# classification_models/weights.py; fetched with keras.utils.get_file into Keras's cache.
_RELEASE = "https://github.com/qubvel/classification_models/releases/download/0.0.1/"
IMAGE_CLASSIFIERS_WEIGHTS = {
    "resnet18": (
        "resnet18_imagenet_1000_no_top.h5",
        _RELEASE + "resnet18_imagenet_1000_no_top.h5",
        "318e3ac0cd98d51e917526c9f62f0b50",
    ),
    "resnet34": (
        "resnet34_imagenet_1000_no_top.h5",
        _RELEASE + "resnet34_imagenet_1000_no_top.h5",
        "8caaa0ad39d927cb8ba5385bf945d582",
    ),
}

_BN = {"momentum": 0.99, "epsilon": 2e-5}
_CONV = {"use_bias": False, "padding": "valid", "kernel_initializer": "he_uniform"}


def _basic_unit(x, filters: int, stage: int, unit: int, strides: int, cut: str):
    """One pre-activation basic block with the image-classifiers layer names (stage, unit 1-based)."""
    base = f"stage{stage}_unit{unit}_"
    y = keras.layers.BatchNormalization(name=base + "bn1", **_BN)(x)
    y = keras.layers.Activation("relu", name=base + "relu1")(y)
    if cut == "post":
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, name=base + "sc", **_CONV)(y)
    else:
        shortcut = x
    y = keras.layers.ZeroPadding2D(1, name=base + "pad1")(y)
    y = keras.layers.Conv2D(filters, 3, strides=strides, name=base + "conv1", **_CONV)(y)
    y = keras.layers.BatchNormalization(name=base + "bn2", **_BN)(y)
    y = keras.layers.Activation("relu", name=base + "relu2")(y)
    y = keras.layers.ZeroPadding2D(1, name=base + "pad2")(y)
    y = keras.layers.Conv2D(filters, 3, name=base + "conv2", **_CONV)(y)
    return keras.layers.Add(name=base + "add")([y, shortcut])


def build_resnet(depth: int = 34, input_shape=(None, None, 3), name: str | None = None) -> keras.Model:
    """Build the image-classifiers ResNet18/34 without its classifier top (ends at `relu1`).

    Args:
        depth: 18 or 34 (basic-block ResNets of He et al. 2016, Table 1).
        input_shape: (H, W, 3); H and W divisible by 32 give features at exactly 1/2^n.
        name: Keras model name (default `resnet{depth}`).

    Returns:
        A functional `keras.Model` from the input layer `data` to `relu1` (stride 32, 512 channels).
    """
    key = f"resnet{depth}"
    if key not in RESNET_REPETITIONS:
        raise ValueError(f"depth must be 18 or 34, got {depth}")
    inputs = keras.Input(shape=tuple(input_shape), name="data")
    x = keras.layers.BatchNormalization(name="bn_data", scale=False, **_BN)(inputs)
    x = keras.layers.ZeroPadding2D(3, name="conv0_pad")(x)
    x = keras.layers.Conv2D(64, 7, strides=2, name="conv0", **_CONV)(x)
    x = keras.layers.BatchNormalization(name="bn0", **_BN)(x)
    x = keras.layers.Activation("relu", name="relu0")(x)
    x = keras.layers.ZeroPadding2D(1, name="pooling0_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="valid", name="pooling0")(x)
    for stage, repetitions in enumerate(RESNET_REPETITIONS[key]):
        filters = 64 * 2**stage
        for unit in range(repetitions):
            if unit == 0:
                # the first stage does not stride: the max-pooling before it already did
                strides = 1 if stage == 0 else 2
                x = _basic_unit(x, filters, stage + 1, unit + 1, strides, cut="post")
            else:
                x = _basic_unit(x, filters, stage + 1, unit + 1, 1, cut="pre")
    x = keras.layers.BatchNormalization(name="bn1", **_BN)(x)
    x = keras.layers.Activation("relu", name="relu1")(x)
    return keras.Model(inputs, x, name=name or key)


def _short(weight_name: str) -> str:
    """'stage1_unit1_bn1/moving_mean:0' -> 'moving_mean'."""
    return weight_name.split("/")[-1].split(":")[0]


def image_classifiers_weight_arrays(source) -> dict[str, dict[str, np.ndarray]]:
    """Read image-classifiers ResNet weights as {layer name: {variable name: array}}.

    Args:
        source: a path to one of the package's Keras-2 `.h5` weight files (e.g.
            `resnet34_imagenet_1000_no_top.h5`), or a built Keras model of that package
            (e.g. `segmentation_models` / `classification_models` ResNet34), or an already
            made mapping, returned as is.

    Returns:
        {layer name: {"kernel" | "gamma" | "beta" | "moving_mean" | "moving_variance" | "bias": array}}.
    """
    if isinstance(source, Mapping):
        return {k: dict(v) for k, v in source.items()}
    if isinstance(source, (str, os.PathLike)):
        import h5py  # a Keras dependency

        arrays: dict[str, dict[str, np.ndarray]] = {}
        with h5py.File(os.fspath(source), "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            if "layer_names" not in group.attrs:
                raise ValueError(
                    f"{source} is not a Keras-2 .h5 weight file of image-classifiers "
                    "(no 'layer_names' attribute); save Keras 3 weights as .weights.h5"
                )
            for raw in group.attrs["layer_names"]:
                layer = raw.decode() if isinstance(raw, bytes) else str(raw)
                names = group[layer].attrs.get("weight_names", [])
                if len(names) == 0:
                    continue
                arrays[layer] = {}
                for wraw in names:
                    wname = wraw.decode() if isinstance(wraw, bytes) else str(wraw)
                    arrays[layer][_short(wname)] = np.asarray(group[layer][wname])
        return arrays
    if hasattr(source, "layers"):
        return {
            layer.name: {_short(v.name): np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in layer.weights}
            for layer in source.layers
            if layer.weights
        }
    raise TypeError(f"cannot read image-classifiers weights from {type(source).__name__}")


def load_image_classifiers_weights(model: keras.Model, source) -> int:
    """Copy image-classifiers ResNet18/34 weights into a model built by `build_resnet` (or an encoder on it).

    The mapping is by layer name and variable name (the two models use the same names), so it
    does not depend on layer order and works on every Keras backend. Source layers the model lacks
    (the classifier `fc1` of a with-top file) are ignored; every weighted layer of `model` must be
    found with the same variable shapes.

    Args:
        model: the target Keras model (layers named as in `build_resnet`).
        source: see `image_classifiers_weight_arrays` (file path, source model, or mapping).

    Returns:
        The number of arrays assigned.

    Raises:
        ValueError: a weighted layer or variable of `model` is missing from `source`, or a shape differs.
    """
    arrays = image_classifiers_weight_arrays(source)
    problems: list[str] = []
    updates = []
    for layer in model.layers:
        if not layer.weights:
            continue
        found = arrays.get(layer.name)
        if found is None:
            problems.append(f"layer '{layer.name}' missing")
            continue
        for variable in layer.weights:
            key = _short(variable.name)
            value = found.get(key)
            if value is None:
                problems.append(f"'{layer.name}/{key}' missing")
            elif tuple(value.shape) != tuple(variable.shape):
                problems.append(f"'{layer.name}/{key}' has shape {value.shape}, model wants {tuple(variable.shape)}")
            else:
                updates.append((variable, value))
    if problems:
        shown = "; ".join(problems[:8]) + (f"; ... ({len(problems)} in all)" if len(problems) > 8 else "")
        raise ValueError(f"image-classifiers weights do not match model '{model.name}': {shown}")
    for variable, value in updates:
        variable.assign(value.astype(variable.dtype))
    return len(updates)
