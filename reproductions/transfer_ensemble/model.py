"""The transfer-ensemble paper's networks (section II.A.1, Fig. 1), in Keras 3.

* :func:`build_fpn_unet`: a pretrained encoder (DenseNet169, ResNet152, Inception-ResNet-v2 or
  Xception, the last two same-padded) and the pyramid-feature-pooling decoder the paper adapted from
  selimsef/dsb2018_topcoders (``selim/models/unets.py``): per level a 1x1 bottleneck to a common
  width, top-down merging by *add*, a 3x3 convolution per merged level, two 3x3 convolutions per
  level (P5..P2) up-sampled to stride 4 and concatenated (the pyramid feature pooling), an
  aggregation conv-BN-ReLU, a decoder step to the stride-2 features, one to full resolution, a 1x1
  convolution and a sigmoid.
* :func:`build_deeplab`: DeepLabV3+ on the aligned Xception-65 backbone with atrous spatial pyramid
  pooling as in bonlime/keras-deeplab-v3-plus (``model.py``), its last layer a 1x1 convolution to one
  map with a sigmoid (the paper's only change). Layer names are the reference's, so its converted
  Pascal VOC weights load by name.

Every builder takes RGB in [0, 1] and scales it inside the model to the encoder's input range
(``ImageNetScaling``, mode from ``configs.PREPROCESSING``). Input height and width may be left
``None`` (the 90-degree test-time view swaps them); they must be multiples of 32.
"""
from __future__ import annotations

import keras
from keras import layers

from common.backbones import build_encoder
from common.backbones.scaling import ImageNetScaling
from reproductions.transfer_ensemble.configs import PREPROCESSING, TEConfig

__all__ = ["build_model", "build_fpn_unet", "build_deeplab", "ENCODER_TAPS", "BroadcastLike"]

#: encoder registry name, the layers P1..P5 are taken from and the levels that get a ReLU, as the
#: reference taps them (unets.py: densenet_fpn, resnet152_fpn, inception_resnet_v2_fpn, xception_fpn)
ENCODER_TAPS = {
    "densenet169": ("densenet169", ("conv1_relu", "pool2_relu", "pool3_relu", "pool4_relu", "relu"), ()),
    "resnet152": ("resnet152", ("conv1_relu", "conv2_block3_out", "conv3_block8_out", "conv4_block36_out",
                                "conv5_block3_out"), ()),
    "inceptionresnetv2": ("inceptionresnetv2_same", ("activation_2", "activation_4", "block35_10_ac",
                                                     "block17_20_ac", "conv_7b_ac"), ()),
    "xception": ("xception_same", ("block1_conv2_act", "block3_sepconv2_bn", "block4_sepconv2_bn",
                                   "block13_sepconv2_bn", "block14_sepconv2_act"), ("P3", "P4")),
}


def size_multiple(cfg: TEConfig) -> int:
    """Image sides must be multiples of this: every encoder (and DeepLabV3+'s) reaches stride 32."""
    return 32


#: bytes one training step holds per input pixel of each image, by encoder: measured with
#: ``--dry-run`` on TensorFlow's CPU allocator at 384x576, the peak less what the weights and the
#: optimizer state hold (0.3-1.5 GB), per image, the largest of the batches measured (ResNet152:
#: 1.39 GB at 1 image, 1.35 at 4; Inception-ResNet-v2: 0.91 at 1, 1.07 at 8; DenseNet169: 1.30 at
#: 1). Encoders not measured take the largest figure.
BYTES_PER_PIXEL = {"resnet152": 6.3e3, "inceptionresnetv2": 4.9e3, "densenet169": 5.9e3}


def micro_batch(cfg: TEConfig) -> int:
    """The most images one training step should take to fit an 11 GB card (about 8 GB for the
    update): the lesion rows at 192x256 take their batch of 16 whole; the attribute rows at
    384x576 train it as micro-batches of 4 images (``--accumulate 4``)."""
    from common.training.memory import per_pixel_micro_batch

    h, w = cfg.image_size
    return per_pixel_micro_batch(h, w, BYTES_PER_PIXEL.get(cfg.model, max(BYTES_PER_PIXEL.values())))


def _conv(x, filters, kernel, name, init, activation=None, use_bias=True):
    return layers.Conv2D(filters, kernel, padding="same", kernel_initializer=init, activation=activation,
                         use_bias=use_bias, name=name)(x)


def _conv_bn_relu(x, filters, name, init):
    x = _conv(x, filters, 3, f"{name}_conv", init)
    x = layers.BatchNormalization(momentum=0.99, epsilon=1.001e-5, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _pyramid(c2, c3, c4, c5, width, init):
    """Top-down merging by add (reference create_pyramid_features; its P1 feeds nothing and is left out)."""
    p5 = _conv(c5, width, 1, "P5", init)
    p4 = layers.Add(name="P4_merged")([layers.UpSampling2D(name="P5_upsampled")(p5),
                                       _conv(c4, width, 1, "C4_reduced", init)])
    p4 = _conv(p4, width, 3, "P4", init)
    p3 = layers.Add(name="P3_merged")([layers.UpSampling2D(name="P4_upsampled")(p4),
                                       _conv(c3, width, 1, "C3_reduced", init)])
    p3 = _conv(p3, width, 3, "P3", init)
    p2 = layers.Add(name="P2_merged")([layers.UpSampling2D(name="P3_upsampled")(p3),
                                       _conv(c2, width, 1, "C2_reduced", init)])
    p2 = _conv(p2, width, 3, "P2", init)
    return p2, p3, p4, p5


def _input(cfg: TEConfig, input_shape):
    shape = tuple(input_shape) if input_shape is not None else (*cfg.image_size, 3)
    inputs = keras.Input(shape, name="image_01")
    mode = PREPROCESSING[cfg.preprocessing][cfg.model]
    return inputs, ImageNetScaling(mode, name="input_scaling")(inputs)


def build_fpn_unet(cfg: TEConfig, encoder_weights=None, input_shape=None) -> keras.Model:
    """The pyramid-pooling U-Net of Fig. 1 on ``cfg.model``'s encoder.

    Args:
        cfg: a `TEConfig` whose ``model`` is densenet169, resnet152, inceptionresnetv2 or xception.
        encoder_weights: None, "imagenet" or a weights file of the encoder.
        input_shape: (H, W, 3); default ``(*cfg.image_size, 3)``; (None, None, 3) takes any size
            with sides divisible by 32.

    Returns:
        ``keras.Model`` from RGB in [0, 1] to a sigmoid map [B, H, W, 1].
    """
    if cfg.model not in ENCODER_TAPS:
        raise ValueError(f"model {cfg.model!r} has no pyramid U-Net; choose one of {', '.join(ENCODER_TAPS)}")
    registry_name, taps, relu_levels = ENCODER_TAPS[cfg.model]
    inputs, x = _input(cfg, input_shape)
    encoder = build_encoder(registry_name, tuple(inputs.shape[1:]), encoder_weights, feature_layers=taps,
                            relu_levels=relu_levels, model_name=f"{cfg.model}_encoder")
    feats = encoder(x)
    init = cfg.decoder_init
    p2, p3, p4, p5 = _pyramid(feats["P2"], feats["P3"], feats["P4"], feats["P5"], cfg.pyramid_width, init)
    heads = []
    for name, p, factor in (("P5", p5, 8), ("P4", p4, 4), ("P3", p3, 2), ("P2", p2, 1)):
        h = _conv(p, cfg.head_width, 3, f"prediction_{name}_1", init, activation="relu")
        h = _conv(h, cfg.head_width, 3, f"prediction_{name}_2", init, activation="relu")
        heads.append(layers.UpSampling2D(factor, name=f"prediction_{name}_up")(h) if factor > 1 else h)
    x = layers.Concatenate(name="pyramid_pooling")(heads)
    x = _conv_bn_relu(x, cfg.aggregation_width, "aggregation", init)
    # decoder_block_no_bn(x, 128, conv1): up-sample, conv-ReLU, concatenate the stride-2 features, conv-ReLU
    up4, up5 = cfg.decoder_widths
    x = layers.UpSampling2D(name="up4_upsample")(x)
    x = _conv(x, up4, 3, "up4_conv1", init, activation="relu")
    x = layers.Concatenate(name="up4_concat")([x, feats["P1"]])
    x = _conv(x, up4, 3, "up4_conv2", init, activation="relu")
    x = layers.UpSampling2D(name="up5_upsample")(x)
    x = _conv(x, up5, 3, "up5_conv1", init, activation="relu")
    x = _conv(x, up5, 3, "up5_conv2", init, activation="relu")
    x = _conv(x, 1, 1, "mask", init)
    outputs = layers.Activation("sigmoid", dtype="float32", name="sigmoid")(x)
    return keras.Model(inputs, outputs, name=f"{cfg.model}_fpn")


# ----------------------------------------------------------------------------- DeepLabV3+


@keras.saving.register_keras_serializable(package="transfer_ensemble")
class BroadcastLike(layers.Layer):
    """Repeat a [B, 1, 1, C] map over the spatial size of a reference [B, H, W, ?] map.

    The reference resizes its image-pooling branch (1x1) bilinearly to the feature size; resizing a
    1x1 map is this broadcast, and unlike a resize it needs no static size.
    """

    def call(self, inputs):
        from keras import ops

        x, ref = inputs
        return x * ops.ones_like(ref[..., :1], dtype=x.dtype)

    def compute_output_shape(self, input_shapes):
        x, ref = input_shapes
        return (ref[0], ref[1], ref[2], x[-1])


def _sep_conv_bn(x, filters, prefix, stride=1, kernel=3, rate=1, depth_activation=False, epsilon=1e-3):
    """Reference SepConv_BN: depthwise (atrous) conv, BN, pointwise conv, BN; 'same' padding done
    explicitly for strided convolutions, as the reference (no one-pixel drift)."""
    if stride == 1:
        padding = "same"
    else:
        effective = kernel + (kernel - 1) * (rate - 1)
        begin = (effective - 1) // 2
        x = layers.ZeroPadding2D((begin, effective - 1 - begin), name=f"{prefix}_pad")(x)
        padding = "valid"
    if not depth_activation:
        x = layers.Activation("relu", name=f"{prefix}_relu_in")(x)
    x = layers.DepthwiseConv2D(kernel, strides=stride, dilation_rate=rate, padding=padding, use_bias=False,
                               name=f"{prefix}_depthwise")(x)
    x = layers.BatchNormalization(epsilon=epsilon, name=f"{prefix}_depthwise_BN")(x)
    if depth_activation:
        x = layers.Activation("relu", name=f"{prefix}_depthwise_relu")(x)
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{prefix}_pointwise")(x)
    x = layers.BatchNormalization(epsilon=epsilon, name=f"{prefix}_pointwise_BN")(x)
    if depth_activation:
        x = layers.Activation("relu", name=f"{prefix}_pointwise_relu")(x)
    return x


def _conv_same(x, filters, prefix, stride=1, kernel=3, rate=1):
    if stride == 1:
        return layers.Conv2D(filters, kernel, padding="same", use_bias=False, dilation_rate=rate, name=prefix)(x)
    effective = kernel + (kernel - 1) * (rate - 1)
    begin = (effective - 1) // 2
    x = layers.ZeroPadding2D((begin, effective - 1 - begin), name=f"{prefix}_pad")(x)
    return layers.Conv2D(filters, kernel, strides=stride, padding="valid", use_bias=False, dilation_rate=rate,
                         name=prefix)(x)


def _xception_block(x, depths, prefix, skip, stride, rate=1, depth_activation=False, return_skip=False):
    residual = x
    skip_out = None
    for i in range(3):
        residual = _sep_conv_bn(residual, depths[i], f"{prefix}_separable_conv{i + 1}",
                                stride=stride if i == 2 else 1, rate=rate, depth_activation=depth_activation)
        if i == 1:
            skip_out = residual
    if skip == "conv":
        shortcut = _conv_same(x, depths[-1], f"{prefix}_shortcut", kernel=1, stride=stride)
        shortcut = layers.BatchNormalization(name=f"{prefix}_shortcut_BN")(shortcut)
        out = layers.Add(name=f"{prefix}_add")([residual, shortcut])
    elif skip == "sum":
        out = layers.Add(name=f"{prefix}_add")([residual, x])
    else:
        out = residual
    return (out, skip_out) if return_skip else out


def build_deeplab(cfg: TEConfig, weights=None, input_shape=None) -> keras.Model:
    """DeepLabV3+ (Xception-65 backbone, ASPP, decoder) with a one-map sigmoid head.

    Args:
        cfg: a `TEConfig` with ``model="deeplabv3plus"`` (``deeplab_output_stride`` 16 or 8).
        weights: None, or a weights file: the reference's converted Pascal VOC ``.h5`` (loaded by
            layer name; its 21-class ``logits_semantic`` is skipped, as the paper replaced it) or a
            Keras ``.weights.h5`` of this model.
        input_shape: as :func:`build_fpn_unet`.
    """
    inputs, x = _input(cfg, input_shape)
    if cfg.deeplab_output_stride == 8:
        entry3_stride, middle_rate, exit_rates = 1, 2, (2, 4)
    else:
        entry3_stride, middle_rate, exit_rates = 2, 1, (1, 2)
    rates = tuple(cfg.deeplab_rates)
    x = layers.Conv2D(32, 3, strides=2, use_bias=False, padding="same", name="entry_flow_conv1_1")(x)
    x = layers.BatchNormalization(name="entry_flow_conv1_1_BN")(x)
    x = layers.Activation("relu", name="entry_flow_conv1_1_relu")(x)
    x = _conv_same(x, 64, "entry_flow_conv1_2", kernel=3, stride=1)
    x = layers.BatchNormalization(name="entry_flow_conv1_2_BN")(x)
    x = layers.Activation("relu", name="entry_flow_conv1_2_relu")(x)
    x = _xception_block(x, (128, 128, 128), "entry_flow_block1", "conv", 2)
    x, skip1 = _xception_block(x, (256, 256, 256), "entry_flow_block2", "conv", 2, return_skip=True)
    x = _xception_block(x, (728, 728, 728), "entry_flow_block3", "conv", entry3_stride)
    for i in range(16):
        x = _xception_block(x, (728, 728, 728), f"middle_flow_unit_{i + 1}", "sum", 1, rate=middle_rate)
    x = _xception_block(x, (728, 1024, 1024), "exit_flow_block1", "conv", 1, rate=exit_rates[0])
    x = _xception_block(x, (1536, 1536, 2048), "exit_flow_block2", "none", 1, rate=exit_rates[1],
                        depth_activation=True)
    # ASPP: image pooling, 1x1, three atrous separable convolutions
    b4 = layers.GlobalAveragePooling2D(keepdims=True, name="image_pooling_gap")(x)
    b4 = layers.Conv2D(256, 1, padding="same", use_bias=False, name="image_pooling")(b4)
    b4 = layers.BatchNormalization(epsilon=1e-5, name="image_pooling_BN")(b4)
    b4 = layers.Activation("relu", name="image_pooling_relu")(b4)
    b4 = BroadcastLike(name="image_pooling_broadcast")([b4, x])
    b0 = layers.Conv2D(256, 1, padding="same", use_bias=False, name="aspp0")(x)
    b0 = layers.BatchNormalization(epsilon=1e-5, name="aspp0_BN")(b0)
    b0 = layers.Activation("relu", name="aspp0_activation")(b0)
    branches = [b4, b0] + [_sep_conv_bn(x, 256, f"aspp{i + 1}", rate=r, depth_activation=True, epsilon=1e-5)
                           for i, r in enumerate(rates)]
    x = layers.Concatenate(name="aspp_concat")(branches)
    x = layers.Conv2D(256, 1, padding="same", use_bias=False, name="concat_projection")(x)
    x = layers.BatchNormalization(epsilon=1e-5, name="concat_projection_BN")(x)
    x = layers.Activation("relu", name="concat_projection_relu")(x)
    x = layers.Dropout(0.1, name="concat_projection_dropout")(x)
    # decoder: up to stride 4, the stride-4 skip projected to 48, two separable convolutions
    x = layers.UpSampling2D(cfg.deeplab_output_stride // 4, interpolation="bilinear", name="decoder_upsample")(x)
    skip = layers.Conv2D(48, 1, padding="same", use_bias=False, name="feature_projection0")(skip1)
    skip = layers.BatchNormalization(epsilon=1e-5, name="feature_projection0_BN")(skip)
    skip = layers.Activation("relu", name="feature_projection0_relu")(skip)
    x = layers.Concatenate(name="decoder_concat")([x, skip])
    x = _sep_conv_bn(x, 256, "decoder_conv0", depth_activation=True, epsilon=1e-5)
    x = _sep_conv_bn(x, 256, "decoder_conv1", depth_activation=True, epsilon=1e-5)
    x = layers.Conv2D(1, 1, padding="same", name="custom_logits_semantic")(x)
    x = layers.UpSampling2D(4, interpolation="bilinear", name="logits_upsample")(x)
    outputs = layers.Activation("sigmoid", dtype="float32", name="sigmoid")(x)
    model = keras.Model(inputs, outputs, name="deeplabv3plus")
    if weights is not None:
        path = str(weights)
        if path.endswith(".weights.h5"):
            model.load_weights(path)
        else:   # the reference's Keras-2 .h5 (converted Pascal VOC weights), matched by layer name
            model.load_weights(path, by_name=True, skip_mismatch=True)
    return model


def build_model(cfg: TEConfig, encoder_weights=None, input_shape=None) -> keras.Model:
    """The row's network: :func:`build_deeplab` for ``deeplabv3plus``, else :func:`build_fpn_unet`."""
    if cfg.model == "deeplabv3plus":
        if encoder_weights == "imagenet":
            raise ValueError(
                "DeepLabV3+ has no ImageNet weights in Keras: its backbone is the aligned Xception-65 of "
                "TensorFlow's DeepLab, not keras.applications' Xception. The paper started from Pascal VOC "
                "weights: convert them with bonlime/keras-deeplab-v3-plus (extract_weights.py, load_weights.py "
                "write deeplabv3_xception_tf_dim_ordering_tf_kernels.h5) and pass that file with "
                "--encoder-weights PATH, or train from scratch with --encoder-weights none.")
        return build_deeplab(cfg, encoder_weights, input_shape)
    return build_fpn_unet(cfg, encoder_weights, input_shape)
