"""Same-padded copies of keras.applications' 'valid'-padded encoders (Xception, Inception-ResNet-v2).

keras.applications builds Xception's stem and most of Inception-ResNet-v2's reductions with 'valid'
convolutions and poolings, so their feature maps are not 1/2^n of the input (a 192x256 image gives
Xception maps of 95x127, 48x64, ...). A U-Net-style decoder that adds or concatenates levels needs
maps at exactly H/2^n x W/2^n. The reference the transfer-ensemble paper adapted
(selimsef/dsb2018_topcoders, ``selim/models/xception_padding.py`` and ``selim/resnetv2.py``) rewrites
both networks with 'same' padding everywhere and loads the unchanged ImageNet weights into them:
padding changes no kernel shape, so every weight keeps its meaning.

:func:`same_padded` does the same to any functional model: it rebuilds it layer by layer with every
'valid' convolution and pooling turned 'same' (names, kernels and weights unchanged). Weight files of
the original (``.weights.h5`` saved from ``keras.applications``' model, or Keras's cached ImageNet
``*_notop.h5``) load into the copy because its layers have the same names, order and shapes.
"""
from __future__ import annotations

import keras

__all__ = ["same_padded", "PADDED_LAYERS"]

#: layer classes whose 'valid' padding is turned 'same'
PADDED_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
)


def _clone_same(layer):
    config = layer.get_config()
    if isinstance(layer, PADDED_LAYERS) and config.get("padding") == "valid":
        config["padding"] = "same"
    return layer.__class__.from_config(config)


def same_padded(model: keras.Model, input_shape=None) -> keras.Model:
    """A copy of ``model`` with every 'valid' convolution and pooling made 'same'.

    Args:
        model: a functional Keras model (e.g. ``keras.applications.Xception(include_top=False)``).
        input_shape: (H, W, C) of the copy's input; default: the model's own.

    Returns:
        A functional model with the same layer names and weight shapes, and the weights of ``model``
        copied in layer by layer.
    """
    shape = tuple(input_shape) if input_shape is not None else tuple(model.input_shape[1:])
    inputs = keras.Input(shape, name=model.layers[0].name)
    copy = keras.models.clone_model(model, input_tensors=inputs, clone_function=_clone_same)
    for source, target in zip(model.layers, copy.layers):
        if source.name != target.name:  # pragma: no cover - clone_model keeps the order
            raise RuntimeError(f"same-padded copy: layer {target.name!r} where {source.name!r} was expected")
        if source.weights:
            target.set_weights(source.get_weights())
    return copy
