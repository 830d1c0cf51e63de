"""Named encoders with feature maps keyed by stride (P1..P5) for U-Net style segmentation models.

    from common.backbones import build_encoder, list_encoders, preprocessing_mode
    encoder = build_encoder("resnet34", (192, 256, 3), weights="imagenet")
    features = encoder(images)          # {"P1": 1/2, "P2": 1/4, "P3": 1/8, "P4": 1/16, "P5": 1/32}

See `registry` for the layer each level is taken from, per family, and `resnet` for the
ResNet18/34 written with `keras.layers` that loads image-classifiers' ImageNet weights.
"""
from .registry import (
    ENCODERS,
    LEVELS,
    EncoderSpec,
    WeightsUnavailableError,
    build_encoder,
    custom_objects,
    encoder_spec,
    keras_cache_dir,
    list_encoders,
    native_feature_shapes,
    preprocessing_mode,
)
from .resnet import (
    IMAGE_CLASSIFIERS_WEIGHTS,
    build_resnet,
    image_classifiers_weight_arrays,
    load_image_classifiers_weights,
)

__all__ = [
    "ENCODERS",
    "IMAGE_CLASSIFIERS_WEIGHTS",
    "LEVELS",
    "EncoderSpec",
    "WeightsUnavailableError",
    "build_encoder",
    "build_resnet",
    "custom_objects",
    "encoder_spec",
    "image_classifiers_weight_arrays",
    "keras_cache_dir",
    "list_encoders",
    "load_image_classifiers_weights",
    "native_feature_shapes",
    "preprocessing_mode",
]
