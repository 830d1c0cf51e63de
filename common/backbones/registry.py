"""Encoder registry: a name -> a Keras model whose outputs are the feature maps P1..P5.

`build_encoder(name, input_shape, weights)` returns a functional `keras.Model` from the image to
a dict {"P1": ..., "P5": ...}; Pn is the feature map at stride 2^n (1/2^n of the input's height
and width when they are divisible by 32). Every level is taken from the backbone by LAYER NAME
(never by index); the names of each family are in `ENCODERS[name].feature_layers` and below.

Names are case-insensitive ("ResNet50" == "resnet50").

| family (source) | names | P1, P2, P3, P4, P5 layers | preprocessing |
| --- | --- | --- | --- |
| ResNet18/34 (`keras.layers`, image-classifiers layout) | resnet18, resnet34 | relu0, stage2_unit1_relu1, stage3_unit1_relu1, stage4_unit1_relu1, relu1 | none (its `bn_data` normalises raw pixels) |
| ResNet v1 (keras.applications) | resnet50, resnet101, resnet152 | conv1_relu, conv2_block3_out, conv3_block{4,4,8}_out, conv4_block{6,23,36}_out, conv5_block3_out | caffe |
| ResNet v2 (keras.applications) | resnet50v2, resnet101v2, resnet152v2 | conv1_conv, conv2_block3_preact_relu, conv3_block{4,4,8}_preact_relu, conv4_block{6,23,36}_preact_relu, post_relu | tf |
| DenseNet (keras.applications) | densenet121, densenet169, densenet201 | conv1_relu, pool2_conv, pool3_conv, pool4_conv, relu | torch |
| EfficientNet (keras.applications) | efficientnetb0 ... efficientnetb7 | block2a_expand_activation, block3a_expand_activation, block4a_expand_activation, block6a_expand_activation, top_activation | none (rescaling and normalisation are inside the model) |
| VGG (keras.applications) | vgg16, vgg19 | block2_conv2, block3_conv3/4, block4_conv3/4, block5_conv3/4, block5_pool | caffe |
| MobileNetV2 (keras.applications) | mobilenetv2 | block_1_expand_relu, block_3_expand_relu, block_6_expand_relu, block_13_expand_relu, out_relu | tf |
| Xception (keras.applications, 'valid' stem) | xception | block1_conv2_act, block3_sepconv1_act, block4_sepconv1_act, block13_sepconv1_act, block14_sepconv2_act | tf |
| InceptionResNetV2 (keras.applications, 'valid' convs) | inceptionresnetv2 | activation_2, activation_4, block35_10_ac, block17_20_ac, conv_7b_ac | tf |
| Xception, same-padded (keras.applications rebuilt 'same', its weights) | xception_same | as xception | tf |
| InceptionResNetV2, same-padded (likewise) | inceptionresnetv2_same | as inceptionresnetv2 | tf |
| SE-ResNet152 (segmentation-models, TF backend only) | seresnet152 | activation, activation_15, activation_55, activation_235, activation_250 | torch |
| SE-ResNeXt101 (segmentation-models, TF backend only) | seresnext101 | activation, activation_15, activation_35, activation_150, activation_165 | torch |

Preprocessing modes are those of `keras.applications.imagenet_utils.preprocess_input`; every mode
takes RGB pixel values in [0, 255]; "none" means pass the 0-255 values unchanged.

Layer names. Layers a network leaves unnamed get Keras's global counters ("activation_417" in a
session that built other models first). `build_encoder` renames every such auto-named layer to
the name it would get in a fresh session (per class: `activation`, `activation_1`, ...), so the
names above are stable; explicitly named layers keep their names.

Valid padding. Xception and InceptionResNetV2 use 'valid' convolutions and poolings, so their maps
are not exactly 1/2^n (a 256x256 input gives 125, 63, 32, 16, 8 for Xception and 125, 60, 29, 14,
6 for InceptionResNetV2). For a U-Net style decoder the encoder resizes each such level
bilinearly to exactly (H/2^n, W/2^n) with a `Resizing` layer named `P{n}_resize` (so these two
need a static H and W divisible by 32); `ENCODERS[name].exact_strides` is False for them and
`native_feature_shapes(name, input_shape)` reports the maps before resizing. The `_same` entries
instead rebuild the network with 'same' padding everywhere (`common.backbones.same_padding`, as the
transfer-ensemble paper's reference code does) and load the same weights: exact strides, no resizing.

Saving: `.weights.h5` files work for every encoder. A `.keras` file of a model holding a
segmentation-models SE encoder contains its `Lambda` layers (functions `expand_dims`,
`slice_tensor` of image-classifiers); load it with
`keras.saving.load_model(path, custom_objects=common.backbones.custom_objects())`.

Weights: None (random), "imagenet" (Keras's cached download; see `WeightsUnavailableError`), or a
file path loaded with `encoder.load_weights(path)` (a `.weights.h5` saved from an encoder of the same
name, or the family's Keras `.h5` no-top file; for resnet18/34 a Keras-2 image-classifiers `.h5` is
mapped by layer name with `load_image_classifiers_weights`).
"""
from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass

import keras

from .resnet import (
    IMAGE_CLASSIFIERS_WEIGHTS,
    RESNET_FEATURE_LAYERS,
    build_resnet,
    load_image_classifiers_weights,
)

__all__ = [
    "ENCODERS",
    "EncoderSpec",
    "WeightsUnavailableError",
    "build_encoder",
    "custom_objects",
    "encoder_spec",
    "keras_cache_dir",
    "list_encoders",
    "native_feature_shapes",
    "preprocessing_mode",
]

LEVELS = ("P1", "P2", "P3", "P4", "P5")


@dataclass(frozen=True)
class EncoderSpec:
    """How to build one encoder.

    Attributes:
        name: registry key (lower case).
        source: "keras.applications", "keras.layers" (ResNet18/34 here) or "segmentation_models".
        constructor: the keras.applications attribute, resnet depth, or segmentation-models backbone name.
        feature_layers: the layer names of P1..P5.
        preprocessing: "torch" | "caffe" | "tf" | "none" (inputs are RGB in [0, 255]).
        exact_strides: False where 'valid' padding makes the maps smaller than 1/2^n (resized then).
        same_padding: the keras.applications model rebuilt with every 'valid' convolution and pooling
            made 'same' (`common.backbones.same_padding`), the same weights loaded: exact strides.
    """

    name: str
    source: str
    constructor: object
    feature_layers: tuple[str, str, str, str, str]
    preprocessing: str
    exact_strides: bool = True
    same_padding: bool = False


def _app(name, constructor, layers, preprocessing, exact=True, same=False):
    return EncoderSpec(name, "keras.applications", constructor, tuple(layers), preprocessing, exact, same)


_EFFICIENTNET_LAYERS = (
    "block2a_expand_activation",
    "block3a_expand_activation",
    "block4a_expand_activation",
    "block6a_expand_activation",
    "top_activation",
)


def _resnet_v1(n3, n4):
    return ("conv1_relu", "conv2_block3_out", f"conv3_block{n3}_out", f"conv4_block{n4}_out", "conv5_block3_out")


def _resnet_v2(n3, n4):
    return (
        "conv1_conv",
        "conv2_block3_preact_relu",
        f"conv3_block{n3}_preact_relu",
        f"conv4_block{n4}_preact_relu",
        "post_relu",
    )


_SPECS = [
    EncoderSpec("resnet18", "keras.layers", 18, RESNET_FEATURE_LAYERS, "none"),
    EncoderSpec("resnet34", "keras.layers", 34, RESNET_FEATURE_LAYERS, "none"),
    *[_app(f"efficientnetb{i}", f"EfficientNetB{i}", _EFFICIENTNET_LAYERS, "none") for i in range(8)],
    _app("resnet50", "ResNet50", _resnet_v1(4, 6), "caffe"),
    _app("resnet101", "ResNet101", _resnet_v1(4, 23), "caffe"),
    _app("resnet152", "ResNet152", _resnet_v1(8, 36), "caffe"),
    _app("resnet50v2", "ResNet50V2", _resnet_v2(4, 6), "tf"),
    _app("resnet101v2", "ResNet101V2", _resnet_v2(4, 23), "tf"),
    _app("resnet152v2", "ResNet152V2", _resnet_v2(8, 36), "tf"),
    *[
        _app(f"densenet{d}", f"DenseNet{d}", ("conv1_relu", "pool2_conv", "pool3_conv", "pool4_conv", "relu"), "torch")
        for d in (121, 169, 201)
    ],
    _app(
        "xception",
        "Xception",
        ("block1_conv2_act", "block3_sepconv1_act", "block4_sepconv1_act", "block13_sepconv1_act", "block14_sepconv2_act"),
        "tf",
        exact=False,
    ),
    _app(
        "inceptionresnetv2",
        "InceptionResNetV2",
        ("activation_2", "activation_4", "block35_10_ac", "block17_20_ac", "conv_7b_ac"),
        "tf",
        exact=False,
    ),
    # Same-padded copies (selimsef/dsb2018_topcoders' xception_padding.py and resnetv2.py, which the
    # transfer-ensemble paper adapted): the same ImageNet weights, maps at exactly 1/2^n. Levels as
    # in the valid-padded entries above.
    _app(
        "xception_same",
        "Xception",
        ("block1_conv2_act", "block3_sepconv1_act", "block4_sepconv1_act", "block13_sepconv1_act", "block14_sepconv2_act"),
        "tf",
        same=True,
    ),
    _app(
        "inceptionresnetv2_same",
        "InceptionResNetV2",
        ("activation_2", "activation_4", "block35_10_ac", "block17_20_ac", "conv_7b_ac"),
        "tf",
        same=True,
    ),
    _app("vgg16", "VGG16", ("block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3", "block5_pool"), "caffe"),
    _app("vgg19", "VGG19", ("block2_conv2", "block3_conv4", "block4_conv4", "block5_conv4", "block5_pool"), "caffe"),
    _app(
        "mobilenetv2",
        "MobileNetV2",
        ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu", "out_relu"),
        "tf",
    ),
    # segmentation-models (image-classifiers) SE-Nets: the ReLU after the stem convolution and the
    # final ReLU (after the residual Add) of each stage: the levels segmentation-models' own U-Net
    # takes from them (there by layer index: 4, 62, 208, 858 and 4, 254, 584, 2472).
    EncoderSpec(
        "seresnet152",
        "segmentation_models",
        "seresnet152",
        ("activation", "activation_15", "activation_55", "activation_235", "activation_250"),
        "torch",
    ),
    EncoderSpec(
        "seresnext101",
        "segmentation_models",
        "seresnext101",
        ("activation", "activation_15", "activation_35", "activation_150", "activation_165"),
        "torch",
    ),
]

ENCODERS: dict[str, EncoderSpec] = {spec.name: spec for spec in _SPECS}

# No-top ImageNet weights of the segmentation-models SE-Nets (image-classifiers 1.0.0 weights.py).
_RELEASE = "https://github.com/qubvel/classification_models/releases/download/0.0.1/"
_SM_WEIGHTS = {
    "seresnet152": ("seresnet152_imagenet_1000_no_top.h5", "f58d4c1a511c7445ab9a2c2b83ee4e7b"),
    "seresnext101": ("seresnext101_imagenet_1000_no_top.h5", "e48708cbe40071cc3356016c37f6c9c7"),
}


def list_encoders() -> list[str]:
    """The registry's encoder names, in registry order."""
    return list(ENCODERS)


def encoder_spec(name: str) -> EncoderSpec:
    """The `EncoderSpec` of `name` (case-insensitive).

    Raises:
        ValueError: unknown name; the message lists the known names.
    """
    key = str(name).lower()
    if key not in ENCODERS:
        raise ValueError(f"unknown encoder '{name}'; known encoders: {', '.join(ENCODERS)}")
    return ENCODERS[key]


def preprocessing_mode(name: str) -> str:
    """The input preprocessing the encoder's ImageNet weights expect.

    Returns:
        "torch" | "caffe" | "tf" as `keras.applications.imagenet_utils.preprocess_input` applies
        them to RGB values in [0, 255], or "none": feed the 0-255 values unchanged (ResNet18/34 of
        image-classifiers and EfficientNet normalise inside the model).
    """
    return encoder_spec(name).preprocessing


# --------------------------------------------------------------------------- weights download


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights are neither in Keras's cache nor downloadable (e.g. no network)."""


def keras_cache_dir() -> str:
    """The folder where Keras caches downloaded weights: `<KERAS_HOME or ~/.keras>/models`."""
    try:  # where keras.utils.get_file really looks (KERAS_HOME is read when Keras is imported)
        from keras.src.backend.config import keras_home

        home = keras_home()
    except Exception:  # pragma: no cover - private helper moved
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(os.path.expanduser(home), "models")


def _unavailable(encoder: str, fname: str | None, origin: str | None, error: BaseException) -> WeightsUnavailableError:
    cache = keras_cache_dir()
    target = os.path.join(cache, fname) if fname else os.path.join(cache, "<file name>")
    return WeightsUnavailableError(
        f"Could not get the ImageNet weights of encoder '{encoder}': downloading "
        f"{origin or fname or 'the weights file'} failed ({type(error).__name__}: {error}).\n"
        f"Keras looks for cached weights at {target} (the folder is $KERAS_HOME/models when the "
        "environment variable KERAS_HOME is set, otherwise ~/.keras/models). On a machine with "
        f"network access download {origin or fname} (or run the same command there once) and copy "
        f"the file to {target}; or pass weights=<path to a weights file>, or weights=None to train "
        "from scratch."
    )


def _fetch(encoder: str, fname: str, origin: str, **kwargs) -> str:
    """`keras.utils.get_file(fname, origin, cache_subdir="models")`, failures -> WeightsUnavailableError."""
    try:
        return keras.utils.get_file(fname, origin, cache_subdir="models", **kwargs)
    except Exception as err:
        raise _unavailable(encoder, fname, origin, err) from err


@contextlib.contextmanager
def _route_application_downloads(encoder: str):
    """Send keras.applications' weight downloads through `_fetch` while a constructor runs.

    keras.applications calls its own module-level reference to `get_file`; routing it through the
    public `keras.utils.get_file` gives the error above (with the exact file name) and lets tests
    replace `keras.utils.get_file`. Restored on exit.
    """
    try:
        from keras.src.utils import file_utils
    except Exception:  # pragma: no cover - private module moved: keep Keras's own behaviour
        yield
        return
    original = file_utils.get_file

    def routed(fname=None, origin=None, *args, **kwargs):
        if args:  # positional extras: keep Keras's own signature
            return original(fname, origin, *args, **kwargs)
        cache_subdir = kwargs.pop("cache_subdir", "models")
        try:
            return keras.utils.get_file(fname, origin, cache_subdir=cache_subdir, **kwargs)
        except Exception as err:
            raise _unavailable(encoder, fname, origin, err) from err

    file_utils.get_file = routed
    try:
        yield
    finally:
        file_utils.get_file = original


# --------------------------------------------------------------------------- names


def _snake(class_name: str) -> str:
    """Keras's auto-name prefix of a class (`keras.src.utils.naming.to_snake_case`)."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _canonicalise_auto_names(model: keras.Model) -> None:
    """Rename auto-named layers ("activation_417") to their fresh-session names ("activation_3").

    A layer counts as auto-named when its name is its class's snake-case name with an optional
    "_<number>" suffix. Renumbered per class in the model's layer order.
    """
    auto = []
    for layer in model.layers:
        prefix = _snake(type(layer).__name__)
        if re.fullmatch(re.escape(prefix) + r"(_\d+)?", layer.name):
            auto.append((layer, prefix))
    explicit = {layer.name for layer in model.layers} - {layer.name for layer, _ in auto}
    counts: dict[str, int] = {}
    for layer, prefix in auto:
        k = counts.get(prefix, 0)
        counts[prefix] = k + 1
        new = prefix if k == 0 else f"{prefix}_{k}"
        if new in explicit:  # pragma: no cover - would need an explicit name shaped like an auto name
            raise RuntimeError(f"cannot give layer '{layer.name}' the stable name '{new}': taken")
        layer.name = new


# --------------------------------------------------------------------------- builders


def _sm_backbone(spec: EncoderSpec, input_shape, weights):
    """Build a segmentation-models backbone (TensorFlow backend only)."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"encoder '{spec.name}' comes from segmentation-models, which builds on tf.keras and so "
            f"needs the TensorFlow backend (KERAS_BACKEND=tensorflow); the active backend is "
            f"'{keras.backend.backend()}'. Choose a keras.applications encoder or resnet18/34 instead."
        )
    os.environ["SM_FRAMEWORK"] = "tf.keras"  # must precede the import; Keras 3 is tf.keras here
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its framework on import
            import segmentation_models as sm
        if sm.framework() != "tf.keras":
            sm.set_framework("tf.keras")
        get_backbone = sm.inject_global_submodules(sm.Backbones.get_backbone)
    except Exception as err:
        raise RuntimeError(
            f"encoder '{spec.name}' needs segmentation-models (pip install segmentation-models), "
            f"which could not be used with Keras {keras.__version__}: {type(err).__name__}: {err}"
        ) from err
    model = get_backbone(spec.constructor, input_shape=tuple(input_shape), weights=None, include_top=False)
    if weights == "imagenet":
        fname, md5 = _SM_WEIGHTS[spec.name]
        path = _fetch(spec.name, fname, _RELEASE + fname, file_hash=md5, hash_algorithm="md5")
        model.load_weights(path)  # Keras-2 .h5, matched by layer order as segmentation-models does
    return model


def _base_model(spec: EncoderSpec, input_shape, weights) -> keras.Model:
    if spec.source == "keras.layers":
        model = build_resnet(spec.constructor, input_shape)
        if weights == "imagenet":
            fname, origin, md5 = IMAGE_CLASSIFIERS_WEIGHTS[spec.name]
            path = _fetch(spec.name, fname, origin, file_hash=md5, hash_algorithm="md5")
            load_image_classifiers_weights(model, path)
        return model
    if spec.source == "segmentation_models":
        return _sm_backbone(spec, input_shape, weights)
    constructor = getattr(keras.applications, spec.constructor)
    if spec.same_padding:  # built valid-padded at a size it accepts, then copied same-padded
        from .same_padding import same_padded

        with _route_application_downloads(spec.name):
            base = constructor(include_top=False, weights="imagenet" if weights == "imagenet" else None,
                               input_shape=(None, None, input_shape[-1]))
        return same_padded(base, input_shape)
    if weights == "imagenet":
        with _route_application_downloads(spec.name):
            return constructor(include_top=False, weights="imagenet", input_shape=tuple(input_shape))
    return constructor(include_top=False, weights=None, input_shape=tuple(input_shape))


def _check_weights(weights):
    if weights is None or weights == "imagenet":
        return
    if isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights):
        return
    raise ValueError(f"weights must be None, 'imagenet' or the path of an existing weights file; got {weights!r}")


def build_encoder(name: str, input_shape=(None, None, 3), weights=None, *, model_name: str | None = None,
                  feature_layers=None, relu_levels=()) -> keras.Model:
    """Build an encoder whose outputs are its feature maps keyed by stride.

    Args:
        name: a registry name (`list_encoders()`), case-insensitive.
        input_shape: (H, W, C). H and W divisible by 32 give Pn at exactly (H/2^n, W/2^n);
            'valid'-padding families (xception, inceptionresnetv2) need them static and divisible
            by 32 (their levels are resized to that size).
        weights: None (random init), "imagenet" (Keras's cache at `keras_cache_dir()`, downloaded
            when absent), or the path of a weights file (`encoder.load_weights(path)`; for
            resnet18/34 also a Keras-2 image-classifiers `.h5`).
        model_name: the Keras name of the returned model (default "<name>_encoder").
        feature_layers: the five layer names P1..P5 are taken from, in place of the registry's (a
            paper that follows a reference's taps, e.g. a pre-activation BN output).
        relu_levels: levels ("P3", ...) whose tapped output gets a ReLU (layer "<level>_relu"), as a
            reference that taps a BN output and activates it.

    Returns:
        A functional `keras.Model` from the image to {"P1": ..., "P5": ...} (Pn at stride 2^n).

    Raises:
        ValueError: unknown name (message lists the known ones), bad `weights`, or a shape the
            family cannot take.
        WeightsUnavailableError: "imagenet" weights are not cached and cannot be downloaded.
        RuntimeError: a segmentation-models encoder off the TensorFlow backend.
    """
    spec = encoder_spec(name)
    _check_weights(weights)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape}")
    height, width = input_shape[0], input_shape[1]
    if not spec.exact_strides and (
        height is None or width is None or height % 32 or width % 32
    ):
        raise ValueError(
            f"encoder '{spec.name}' uses 'valid' padding; its levels are resized to exact strides, "
            f"which needs a static input height and width divisible by 32, got {input_shape[:2]}"
        )
    taps = tuple(feature_layers) if feature_layers is not None else spec.feature_layers
    if len(taps) != len(LEVELS) or any(level not in LEVELS for level in relu_levels):
        raise ValueError(f"feature_layers must name {len(LEVELS)} layers and relu_levels be among {LEVELS}; "
                         f"got {taps!r}, {tuple(relu_levels)!r}")
    base = _base_model(spec, input_shape, weights)
    _canonicalise_auto_names(base)
    outputs = {}
    for n, (level, layer_name) in enumerate(zip(LEVELS, taps), start=1):
        try:
            tensor = base.get_layer(layer_name).output
        except ValueError:
            raise ValueError(f"encoder '{spec.name}' has no layer {layer_name!r} to take {level} from") from None
        if level in relu_levels:
            tensor = keras.layers.Activation("relu", name=f"{level}_relu")(tensor)
        if not spec.exact_strides:
            target = (height // 2**n, width // 2**n)
            if tuple(tensor.shape[1:3]) != target:
                tensor = keras.layers.Resizing(*target, interpolation="bilinear", name=f"{level}_resize")(tensor)
        outputs[level] = tensor
    encoder = keras.Model(base.inputs[0], outputs, name=model_name or f"{spec.name}_encoder")
    if weights is not None and weights != "imagenet":
        path = os.fspath(weights)
        if spec.source == "keras.layers" and path.endswith(".h5") and not path.endswith(".weights.h5"):
            load_image_classifiers_weights(encoder, path)
        else:
            encoder.load_weights(path)
    return encoder


def custom_objects() -> dict:
    """The functions `.keras` files with segmentation-models SE encoders need to load.

    Returns:
        {"expand_dims": ..., "slice_tensor": ...} from image-classifiers (its SE blocks' `Lambda`
        layers), or {} when that package is not installed.
    """
    try:
        from classification_models.models._common_blocks import expand_dims, slice_tensor
    except Exception:
        return {}
    return {"expand_dims": expand_dims, "slice_tensor": slice_tensor}


def native_feature_shapes(name: str, input_shape) -> dict[str, tuple]:
    """The (H, W, C) of each level straight from the backbone, before any resizing.

    For exact-stride families these equal the encoder's outputs; for xception and
    inceptionresnetv2 they show the 'valid'-padding sizes (e.g. 125 rather than 128).
    """
    spec = encoder_spec(name)
    base = _base_model(spec, tuple(input_shape), None)
    _canonicalise_auto_names(base)
    return {
        level: tuple(base.get_layer(layer_name).output.shape[1:])
        for level, layer_name in zip(LEVELS, spec.feature_layers)
    }
