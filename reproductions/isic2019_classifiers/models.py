"""The thesis's classifiers (sections 2.3-2.5, 3.2.1-3.2.2), each ending in a softmax over the classes.

- ``vgg16`` and ``resnet101``: ``keras.applications`` (ResNet101 ImageNet-pretrained in the thesis,
  section 3.2.1); the ImageNet top is replaced by global average pooling (ResNet101) or VGG16's own
  fully connected top (4096-4096) with ``n_classes`` outputs.
- ``alexnet``: torchvision's AlexNet layout (the thesis trained in PyTorch): five convolutions
  (64 11x11/4, 192 5x5, 384, 256, 256 3x3), three 3x3/2 max-pools, 6x6 adaptive average pooling,
  dropout 0.5, 4096-4096 dense layers: 61.1 M weights with 1000 classes, as torchvision's.
- ``wide_resnet50_2``: WRN-50-2 (Zagoruyko & Komodakis 2016) as torchvision's ``wide_resnet50_2``,
  a ResNet-50 whose bottleneck convolutions are twice as wide: 68.9 M weights with 1000 classes.
- ``residual``: the thesis's own residual net, "blocks of convolutional layers, pooling layers and
  dropout layers, then dense layers" (section 3.2.1); its widths are not given: ours are four
  residual blocks of two 3x3 conv-BN-ReLU (32, 64, 128, 256) with a 1x1 projection shortcut, 2x2
  max-pooling and dropout 0.25 after each, then dense 256 with dropout 0.5.
"""
from __future__ import annotations

import keras
from keras import layers

from reproductions.isic2019_classifiers.configs import MODELS


def size_multiple(cfg) -> int:
    """Image sides must be multiples of this: 2 to the number of poolings for the thesis's U-Net,
    32 (the classifiers' coarsest stride) otherwise."""
    return 2 ** (len(cfg.unet_filters) - 1) if cfg.model == "unet" else 32


#: bytes one training step of the U-Net (widths 64-1024) holds per input pixel of one image:
#: measured with ``--dry-run`` on TensorFlow's CPU allocator, a peak of 5.30 GB at 768x1024 for one
#: image, 0.54 GB of it held before the update
UNET_BYTES_PER_PIXEL = 6.1e3


def micro_batch(cfg) -> int | None:
    """The most images one training step of the row should take to fit an 11 GB card: the U-Net
    at the thesis's 768x1024 takes about 5 GB per image, so it trains its batch one image at a time
    (gradient accumulation keeps the batch); the classifiers fit their batch of 32 at 256x256."""
    if cfg.model != "unet":
        return None
    from common.training.memory import per_pixel_micro_batch

    h, w = cfg.image_size
    return per_pixel_micro_batch(h, w, UNET_BYTES_PER_PIXEL)


def _softmax_head(x, n_classes: int):
    return layers.Dense(n_classes, activation="softmax", dtype="float32", name="predictions")(x)


def alexnet(input_shape=(256, 256, 3), n_classes: int = 8, dropout: float = 0.5) -> keras.Model:
    """torchvision's AlexNet (``features``, ``avgpool`` to 6x6, ``classifier``) with ``n_classes`` outputs."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.ZeroPadding2D(2)(inputs)
    x = layers.Conv2D(64, 11, strides=4, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = layers.Conv2D(192, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu", name="conv5")(x)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = _adaptive_average_pool(x, 6)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(4096, activation="relu", name="fc6")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(4096, activation="relu", name="fc7")(x)
    return keras.Model(inputs, _softmax_head(x, n_classes), name="alexnet")


def _adaptive_average_pool(x, size: int):
    """PyTorch's ``AdaptiveAvgPool2d(size)`` for a static input whose side is a multiple of ``size``
    or smaller than it (then the map is repeated up, as PyTorch's does for a 1x1 map)."""
    h, w = int(x.shape[1]), int(x.shape[2])
    if h % size == 0 and w % size == 0:
        return layers.AveragePooling2D((h // size, w // size))(x) if h > size else x
    return layers.Resizing(size, size, interpolation="bilinear")(x)


def _bottleneck(x, width: int, out: int, strides: int, name: str):
    shortcut = x
    y = layers.Conv2D(width, 1, use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn1")(y)
    y = layers.ReLU()(y)
    y = layers.ZeroPadding2D(1)(y)
    y = layers.Conv2D(width, 3, strides=strides, use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn2")(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(out, 1, use_bias=False, name=f"{name}_conv3")(y)
    y = layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn3")(y)
    if strides != 1 or int(x.shape[-1]) != out:
        shortcut = layers.Conv2D(out, 1, strides=strides, use_bias=False, name=f"{name}_downsample_0")(x)
        shortcut = layers.BatchNormalization(epsilon=1e-5, name=f"{name}_downsample_1")(shortcut)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def wide_resnet50_2(input_shape=(256, 256, 3), n_classes: int = 8) -> keras.Model:
    """WRN-50-2 with torchvision's layer structure and names (``layer1_0_conv1`` for
    ``layer1.0.conv1``), so a torchvision state dict maps onto it name by name."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.ZeroPadding2D(3)(inputs)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1")(x)
    x = layers.BatchNormalization(epsilon=1e-5, name="bn1")(x)
    x = layers.ReLU()(x)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.MaxPooling2D(3, strides=2)(x)
    for stage, (blocks, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for block in range(blocks):
            strides = 2 if stage > 1 and block == 0 else 1
            x = _bottleneck(x, planes * 2, planes * 4, strides, name=f"layer{stage}_{block}")
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _softmax_head(x, n_classes), name="wide_resnet50_2")


def residual_net(input_shape=(256, 256, 3), n_classes: int = 8, widths=(32, 64, 128, 256),
                 dense: int = 256, dropout: float = 0.25, dense_dropout: float = 0.5) -> keras.Model:
    """The thesis's own residual net (section 3.2.1), widths ours (the thesis gives none)."""
    from common.backbones.blocks import conv_bn_relu

    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for i, width in enumerate(widths, start=1):
        shortcut = layers.Conv2D(width, 1, use_bias=False, name=f"block{i}_shortcut")(x)
        y = conv_bn_relu(x, width, name=f"block{i}_a")
        y = conv_bn_relu(y, width, name=f"block{i}_b")
        x = layers.Add(name=f"block{i}_add")([y, shortcut])
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
        x = layers.Dropout(dropout, name=f"block{i}_dropout")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(dense, activation="relu", name="dense")(x)
    x = layers.Dropout(dense_dropout)(x)
    return keras.Model(inputs, _softmax_head(x, n_classes), name="residual_net")


def build_classifier(name: str, input_shape=(256, 256, 3), n_classes: int = 8, weights=None, **kwargs
                     ) -> keras.Model:
    """One of :data:`MODELS` with a softmax over ``n_classes``. ``weights``: None, "imagenet" (the
    ``keras.applications`` models; their ImageNet tops are replaced) or a weights file."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if name in ("vgg16", "resnet101"):
        app = keras.applications.VGG16 if name == "vgg16" else keras.applications.ResNet101
        base = app(include_top=False, weights="imagenet" if weights == "imagenet" else None,
                   input_shape=input_shape)
        x = base.output
        if name == "vgg16":           # VGG16's own top: flatten, 4096, 4096
            x = layers.Flatten(name="flatten")(x)
            x = layers.Dense(4096, activation="relu", name="fc1")(x)
            x = layers.Dense(4096, activation="relu", name="fc2")(x)
        else:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        model = keras.Model(base.input, _softmax_head(x, n_classes), name=name)
    elif weights == "imagenet":
        raise ValueError(f"{name}: ImageNet weights come from a converted file (--encoder-weights PATH), "
                         "not from keras.applications")
    else:
        builder = {"alexnet": alexnet, "residual": residual_net, "wide_resnet50_2": wide_resnet50_2}[name]
        model = builder(input_shape, n_classes, **kwargs)
    if weights not in (None, "imagenet"):
        model.load_weights(weights)
    return model


def torchvision_to_keras_name(key: str) -> tuple[str, str] | None:
    """``layer1.0.conv1.weight`` -> (``layer1_0_conv1``, ``weight``); None for buffers Keras has no
    place for (``num_batches_tracked``)."""
    *path, attr = key.split(".")
    if attr == "num_batches_tracked":
        return None
    return "_".join(path), attr


def load_torchvision_state_dict(model: keras.Model, state) -> int:
    """Load a torchvision ``wide_resnet50_2`` (or any net built with torchvision's names here) state
    dict into ``model``: a mapping of arrays, an ``.npz`` file, or a ``.pth`` file (needs PyTorch).
    Convolutions OIHW -> HWIO, dense (out, in) -> (in, out), BN weight/bias/running_mean/running_var ->
    gamma/beta/moving_mean/moving_variance. The classifier ``fc`` is loaded only when its number of
    outputs matches the model's (the thesis replaces ImageNet's 1000 by its classes).
    Returns the number of tensors loaded; a missing or misshapen tensor is an error naming it."""
    import numpy as np

    if isinstance(state, (str, bytes)) or hasattr(state, "__fspath__"):
        path = str(state)
        if path.endswith(".npz"):
            with np.load(path) as data:
                state = {k: data[k] for k in data.files}
        else:
            import torch  # noqa: PLC0415 - optional: only for .pth files

            state = {k: v.detach().cpu().numpy() for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state.items():
        mapped = torchvision_to_keras_name(key)
        if mapped is not None:
            grouped.setdefault(mapped[0], {})[mapped[1]] = np.asarray(value)
    loaded = 0
    for layer_name, tensors in grouped.items():
        target = "predictions" if layer_name == "fc" else layer_name
        try:
            layer = model.get_layer(target)
        except ValueError:
            raise ValueError(f"state dict entry {layer_name}.*: the model has no layer {target!r}") from None
        if isinstance(layer, layers.BatchNormalization):
            values = [tensors["weight"], tensors["bias"], tensors["running_mean"], tensors["running_var"]]
        elif isinstance(layer, layers.Conv2D):
            values = [tensors["weight"].transpose(2, 3, 1, 0)] + ([tensors["bias"]] if "bias" in tensors else [])
        elif isinstance(layer, layers.Dense):
            values = [tensors["weight"].T, tensors["bias"]]
            if values[0].shape != tuple(layer.kernel.shape):
                if layer_name == "fc":
                    continue          # another number of classes: the head stays as initialised
                raise ValueError(f"{layer_name}.weight: shape {tensors['weight'].shape} does not fit {layer.name}")
        else:
            raise ValueError(f"state dict entry {layer_name}.*: layer {layer.name} takes no weights")
        expected = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != expected:
            raise ValueError(f"{layer_name}: shapes {[v.shape for v in values]} do not fit {layer.name} {expected}")
        layer.set_weights(values)
        loaded += len(values)
    return loaded
