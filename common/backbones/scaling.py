"""Scaling an input with every channel in [0, 1] to the range an ImageNet encoder expects, inside the model."""
from __future__ import annotations

import keras
from keras import layers, ops

PREPROCESSING_MODES = ("none", "tf", "torch", "caffe", "unit")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, for inputs in [0, 1] ("torch" mode)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # for BGR inputs in [0, 255] ("caffe" mode)


@keras.saving.register_keras_serializable(package="common")
class ImageNetScaling(layers.Layer):
    """Map an input with every channel in [0, 1] (section 3.1) to the range an ImageNet encoder expects.

    ``keras.applications.imagenet_utils.preprocess_input`` applied to ``255 * x``, written with
    ``keras.ops`` so it lives inside the model (and the saved file):

    * ``"none"``: ``255 * x`` (EfficientNet rescales and normalises inside the model);
    * ``"tf"``: ``2 * x - 1``;
    * ``"torch"``: ``(x - mean) / std`` with ImageNet's RGB mean and standard deviation;
    * ``"caffe"``: channels reversed (RGB -> BGR), ``255 * x - mean_bgr``;
    * ``"unit"``: ``x`` unchanged, in [0, 1] (the transfer ensemble's DeepLabV3 input).

    A paper that feeds other channels than RGB (AER-Net's CIELAB) to an encoder pretrained on RGB
    gets them on the numeric scale the pretrained stem and its batch-normalisation statistics were
    trained on. Being an affine map per channel, it changes nothing for an encoder trained from
    scratch beyond a fixed rescaling.

    Args:
        mode: the encoder's preprocessing mode (``common.backbones.preprocessing_mode(name)``).
        **kwargs: base ``keras.layers.Layer`` arguments.
    """

    def __init__(self, mode: str = "none", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(f"mode must be one of {PREPROCESSING_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "none":
            return x * 255.0
        if self.mode == "unit":
            return x
        if self.mode == "tf":
            return x * 2.0 - 1.0
        if self.mode == "torch":
            return (x - ops.array(_IMAGENET_MEAN, x.dtype)) / ops.array(_IMAGENET_STD, x.dtype)
        return ops.flip(x, axis=-1) * 255.0 - ops.array(_CAFFE_MEAN_BGR, x.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config
