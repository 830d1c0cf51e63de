"""AER-Net as the shared commands see it: rows, builders, training step (sections 3.3-3.4).

The runner (:mod:`common.training.commands`) feeds every row ``to_colour_space(images,
cfg.colour_space)``: float32 channels in [0, 1] (CIELAB for AER-Net, section 3.1). The configs have no
``preprocess`` field, so nothing else is done to the input outside the model: the scaling an ImageNet
encoder expects happens inside it (:class:`~reproductions.aernet.layers.ImageNetScaling`), and 1- or
6-channel inputs pass the model's ``colour_adapter`` first.

The paper's split (``count:2094``: 2094 ISIC 2018 images train, the other 500 test) has no validation
part; the runner then keeps the last epoch's weights (no model selection) and scores the test part,
which is what the paper describes (100 epochs, then the test images).
"""
from __future__ import annotations

from common.config import ConfigError
from common.training.paper import Paper, TrainingParts, build_or_explain, lazy
from reproductions.aernet.configs import PUBLISHED, ROWS, TABLES, UNET_ENCODER


def _model(cfg, encoder_weights):
    """``build_model`` with a clean command-line error for weights a row cannot take or get."""
    from reproductions.aernet.model import build_model

    if cfg.encoder == UNET_ENCODER and encoder_weights is not None:
        raise ConfigError(f"this row's encoder is the original U-Net trained from scratch (Table 2): "
                          f"--encoder-weights accepts only none, got {encoder_weights!r}")
    return build_or_explain(build_model, cfg, encoder_weights=encoder_weights)


def build_training(cfg) -> TrainingParts:
    """The row's model, Adam (lr 0.001, section 3.3) and the Dice loss of eq. 1 (section 3.4).

    Args:
        cfg: an :class:`~reproductions.aernet.configs.AERNetConfig` (a row of ``ROWS``).
            Its ``encoder_weights`` (``None``: random initialisation, ``"imagenet"`` or a weights
            file) is what the run starts from; ``--encoder-weights`` sets it.
    """
    import keras

    from common.losses import get_loss
    from common.training.steps import SupervisedStep

    model = _model(cfg, cfg.encoder_weights)
    optimizer = {"adam": keras.optimizers.Adam}[cfg.optimizer](learning_rate=cfg.learning_rate)  # section 3.3
    step = SupervisedStep(model, get_loss(cfg.loss), optimizer)
    return TrainingParts(step=step, models={"model": model}, optimizers={"model": optimizer},
                         network=model)


def augment(cfg):
    """None, as the paper trains (section 5 names augmentation as future work); ``augment=flips``
    adds random left-right and up-down flips."""
    if cfg.augment in (None, "none"):
        return None
    from common.augment import get_pipeline

    return get_pipeline(cfg.augment)


def build_network(cfg):
    """The row's model with randomly initialised encoder; the run's weights are loaded afterwards."""
    from reproductions.aernet.model import build_model

    return build_model(cfg, encoder_weights=None)


PAPER = Paper(
    name="aernet",
    title="AER-Net (Lima & Braz Junior 2021), Attention Efficient Residual U-Net on CIELAB input",
    rows=ROWS,
    tables=TABLES,
    published=PUBLISHED,
    default_row="AER-Net",
    build_training=build_training,
    build_network=build_network,
    augment=augment,
    weights_choices=("imagenet", "none", "PATH"),
    # The embedded synthetic data: about two minutes on a 2-core CPU, most of it tracing EfficientNetB1.
    # Random initialisation, so the command runs offline; --encoder-weights imagenet still asks for
    # the pretrained encoder.
    synthetic_defaults={"epochs": 3, "synthetic_size": 96, "image_size": (64, 64), "batch_size": 8,
                        "encoder_weights": None},
    size_multiple=lazy("reproductions.aernet.model:size_multiple"),
    tiny=dict(row="Attention + Residual connections + U-Net",
              sets=("unet_encoder_filters=4,8,16,32,64", "decoder_filters=32,16,8,4"),
              image_size=32, synthetic_size=16, batch_size=4, argv=("--encoder-weights", "none", "--seed", "3", "--quiet"),
              epochs=2, split="val", n_images=16),
)
