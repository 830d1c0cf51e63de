"""Configurations of every AER-Net table row (Lima & Braz Júnior 2021, Tables 1-3, section 3.1).

``BASE`` is the proposed AER-Net as sections 3.1-3.4 describe it; every other row is
``replace(BASE, ...)`` with only what that row changes. ``ROWS`` lists them in the paper's table
order, ``TABLES`` says which rows each table holds, ``PUBLISHED`` holds the paper's numbers as fractions
and ``PAPER_LABELS`` the paper's own spelling of each row.

Row names are short, command-line friendly keys (``--row "AER-Net"``); where the paper spells a row
differently its spelling is in ``PAPER_LABELS``. Table 3 compares AER-Net with other publications:
those rows are ``CITED_ONLY`` (their numbers are in ``PUBLISHED``, no model here).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

COLOUR_SPACES = ("lab", "rgb", "hsv", "hsv_rgb", "grey")
INPUT_CHANNELS = {"lab": 3, "rgb": 3, "hsv": 3, "hsv_rgb": 6, "grey": 1}
UNET_ENCODER = "unet"  # the from-scratch encoder of the original U-Net (Table 2, rows 1-3)


@dataclass(frozen=True)
class AERNetConfig:
    """One AER-Net experiment: architecture, data and training settings of a table row."""

    #: the values each text field accepts (the runner refuses others, naming these)
    CHOICES: ClassVar[dict[str, tuple]] = {
        "colour_space": COLOUR_SPACES, "psi_activation": ("sigmoid", "relu"), "dataset": ("isic2018",),
        "augment": (None, "none", "flips"), "loss": ("dice", "bce", "dice_ce", "jaccard_bce", "squared_jaccard"),
        "optimizer": ("adam",),
    }
    #: text fields checked by their own parser
    OPEN_FIELDS: ClassVar[dict[str, str]] = {
        "encoder": "an encoder of common.backbones (the error lists them) or unet",
        "encoder_weights": "imagenet, none or a weights file", "split": "a split spec"}

    # --- architecture (section 3.2, Figs. 3-5)
    encoder: str = "efficientnetb1"  # Sec. 3.2 / Table 1: EfficientNetB1 was the best backbone
    encoder_weights: str | None = "imagenet"  # Sec. 3.2: encoder pre-trained on ImageNet
    use_attention: bool = True  # Sec. 3.2.1 / Fig. 5: attention gates on the skip connections
    use_residual: bool = True  # Sec. 3.2 / Fig. 4: residual decoder blocks
    psi_activation: str = "sigmoid"  # Fig. 5 (Oktay et al.): sigmoid; the authors' code uses "relu"
    encoder_input_scaling: bool = True  # ours: [0, 1] channels put on the scale the ImageNet stem expects
    decoder_filters: tuple[int, ...] = (256, 128, 64, 32, 16)  # Sec. 3.2: every level halves the channels
    unet_encoder_filters: tuple[int, ...] = (64, 128, 256, 512, 1024)  # Table 2 "U-Net": Ronneberger et al.'s widths
    # --- data (section 3.1)
    dataset: str = "isic2018"  # Sec. 3.1: ISIC 2018 Task 1, 2594 images with masks
    colour_space: str = "lab"  # Sec. 3.1: CIELAB beat RGB, HSV, HSV+RGB and grey; each channel in [0, 1]
    image_size: tuple[int, int] = (256, 256)  # Sec. 3.1: images resized to 256 x 256
    augment: str | None = None  # Sec. 5: no augmentation was used (named as future work); "flips" adds random left-right and up-down flips
    # --- training (sections 3.3-3.4)
    split: str = "count:2094"  # Sec. 3.3: 2094 of the 2594 images (80.72 %) train, the rest test
    loss: str = "dice"  # Sec. 3.4, eq. 1: Dice loss; also bce, dice_ce, jaccard_bce, squared_jaccard (common.losses)
    optimizer: str = "adam"  # Sec. 3.3: Adam (the only choice; named so the record says it)
    learning_rate: float = 1e-3  # Sec. 3.3: learning rate 0.001
    batch_size: int = 16  # Sec. 3.3: batch of 16
    epochs: int = 100  # Sec. 3.3: 100 epochs
    threshold: float = 0.5  # Sec. 4.2: Jaccard/Dice on binary masks; the sigmoid output cut at 0.5

    def __post_init__(self):
        if self.colour_space not in COLOUR_SPACES:
            raise ValueError(f"colour_space must be one of {COLOUR_SPACES}, got {self.colour_space!r}")
        if self.psi_activation not in ("sigmoid", "relu"):
            raise ValueError(f"psi_activation must be 'sigmoid' or 'relu', got {self.psi_activation!r}")
        if not self.decoder_filters or min(self.decoder_filters) < 1:
            raise ValueError(f"decoder_filters must be positive channel counts, got {self.decoder_filters!r}")
        if self.encoder == UNET_ENCODER and self.encoder_weights is not None:
            raise ValueError("the from-scratch U-Net encoder has no pretrained weights: set encoder_weights=None")

    @property
    def input_channels(self) -> int:
        """Channels of the network input for this row's colour space (3, or 6 for HSV+RGB, 1 for grey)."""
        return INPUT_CHANNELS[self.colour_space]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of the network input."""
        return (*self.image_size, self.input_channels)


BASE = AERNetConfig()

# The original U-Net (Ronneberger et al. 2015) trained from scratch: Table 2 cites it as its first row
# and its JSI (55.5 %) is far below every pretrained backbone of Table 1 (>= 75.4 %), and the text credits
# "above all" the pretrained EfficientNetB1 for AER-Net's gain, so rows 1-3 of Table 2 have no
# pretrained encoder.
_ORIGINAL_UNET = dict(encoder=UNET_ENCODER, encoder_weights=None, decoder_filters=(512, 256, 128, 64))
# Table 1's backbone search: a plain U-Net decoder (no attention, no residual blocks) on each encoder.
_PLAIN_DECODER = dict(use_attention=False, use_residual=False)

ROWS: dict[str, AERNetConfig] = {
    # Table 1: the five best backbones of a U-Net (Jaccard only), best first.
    "U-Net EfficientNetB1": replace(BASE, **_PLAIN_DECODER),
    "U-Net SE-ResNeXt101": replace(BASE, **_PLAIN_DECODER, encoder="seresnext101"),
    "U-Net EfficientNetB3": replace(BASE, **_PLAIN_DECODER, encoder="efficientnetb3"),
    "U-Net SE-ResNet152": replace(BASE, **_PLAIN_DECODER, encoder="seresnet152"),
    "U-Net EfficientNetB0": replace(BASE, **_PLAIN_DECODER, encoder="efficientnetb0"),
    # Table 2: ablation from the original U-Net to AER-Net.
    "U-Net": replace(BASE, **_ORIGINAL_UNET, use_attention=False, use_residual=False),
    "Attention + U-Net": replace(BASE, **_ORIGINAL_UNET, use_residual=False),
    "Attention + Residual connections + U-Net": replace(BASE, **_ORIGINAL_UNET),
    "AER-Net": BASE,
    # Section 3.1: colour spaces tried before CIELAB was chosen (no numbers in the paper); in the
    # order the text lists them. The CIELAB entry is the "AER-Net" row itself.
    "AER-Net HSV": replace(BASE, colour_space="hsv"),
    "AER-Net RGB": replace(BASE, colour_space="rgb"),
    "AER-Net HSV + RGB": replace(BASE, colour_space="hsv_rgb"),
    "AER-Net grey": replace(BASE, colour_space="grey"),
}

# Table 3 rows the paper quotes from other publications: numbers in PUBLISHED only, nothing to build.
CITED_ONLY: dict[str, str] = {
    "Souza et al. 2020 (U-Net)": "Souza, Lelis & Silva 2020, SBCAS (U-Net with Otsu post-processing)",
    "Ji et al. 2018 (ResNet34-based)": "Ji et al. 2018, FA-CNN technical report (ResNet34 encoder)",
    "Amin et al. 2020 (VGG-16)": "Amin et al. 2020, Pattern Recognition Letters 131 (AlexNet/VGG-16 features)",
    # Oktay et al. evaluated on pancreas CT; 70 % / 79.6 % equal Table 2's "Attention + U-Net" row,
    # so these are presumably the authors' own ISIC 2018 run of Attention U-Net.
    "Oktay et al. 2018 (Attention U-Net)": "Oktay et al. 2018, arXiv:1804.03999 (numbers as Table 2's Attention + U-Net)",
}

COLOUR_TABLE = "Section 3.1 (colour spaces)"

TABLES: dict[str, list[str]] = {
    "Table 1": ["U-Net EfficientNetB1", "U-Net SE-ResNeXt101", "U-Net EfficientNetB3",
                "U-Net SE-ResNet152", "U-Net EfficientNetB0"],
    "Table 2": ["U-Net", "Attention + U-Net", "Attention + Residual connections + U-Net", "AER-Net"],
    "Table 3": ["AER-Net"],  # the other Table 3 rows are CITED_ONLY
    COLOUR_TABLE: ["AER-Net HSV", "AER-Net RGB", "AER-Net HSV + RGB", "AER-Net grey", "AER-Net"],
}

# The paper's numbers, percentages transcribed as fractions exactly as printed, in the paper's row
# order (Table 3 with its cited rows). None is a "-" in the table; Table 1 has no Dice column. Table 2
# prints AER-Net's JSI as 77.2 %, Table 3 and the abstract as 77.29 %. The colour-space comparison
# (section 3.1) has no numbers.
PUBLISHED: dict[str, dict[str, dict[str, float | None]]] = {
    "Table 1": {
        "U-Net EfficientNetB1": {"jaccard": 0.761},
        "U-Net SE-ResNeXt101": {"jaccard": 0.757},
        "U-Net EfficientNetB3": {"jaccard": 0.7565},
        "U-Net SE-ResNet152": {"jaccard": 0.756},
        "U-Net EfficientNetB0": {"jaccard": 0.754},
    },
    "Table 2": {
        "U-Net": {"jaccard": 0.555, "dice": 0.674},
        "Attention + U-Net": {"jaccard": 0.70, "dice": 0.796},
        "Attention + Residual connections + U-Net": {"jaccard": 0.706, "dice": 0.799},
        "AER-Net": {"jaccard": 0.772, "dice": 0.8525},
    },
    "Table 3": {
        "Souza et al. 2020 (U-Net)": {"jaccard": 0.680, "dice": 0.772},
        "Ji et al. 2018 (ResNet34-based)": {"jaccard": 0.7951, "dice": None},
        "Amin et al. 2020 (VGG-16)": {"jaccard": 0.850, "dice": 0.820},
        "Oktay et al. 2018 (Attention U-Net)": {"jaccard": 0.70, "dice": 0.796},
        "AER-Net": {"jaccard": 0.7729, "dice": 0.8525},
    },
    COLOUR_TABLE: {},
}

# The paper's own spelling of each row (ours and cited), per table; Portuguese kept as printed.
PAPER_LABELS: dict[str, dict[str, str]] = {
    "Table 1": {
        "U-Net EfficientNetB1": "EfficientNetb1",
        "U-Net SE-ResNeXt101": "Se-ResNeXt101",
        "U-Net EfficientNetB3": "EfficientNetb3",
        "U-Net SE-ResNet152": "SeResNet152",
        "U-Net EfficientNetB0": "EfficientNetb0",
    },
    "Table 2": {
        "U-Net": "U-Net [Ronneberger et al. 2015]",
        "Attention + U-Net": "Attention + U-Net",
        "Attention + Residual connections + U-Net": "Attention + Residual connections + U-net",
        "AER-Net": "Attention + Efficientnetb1 + Residual + U-Net (AER-Net)",
    },
    "Table 3": {
        "Souza et al. 2020 (U-Net)": "Souza et al. [Souza et al. 2020] — U-Net",
        "Ji et al. 2018 (ResNet34-based)": "Ji et al. [Ji et al. 2018] — baseado em Resnet34",
        "Amin et al. 2020 (VGG-16)": "Amin et al. [Amin et al. 2020] — VGG-16",
        "Oktay et al. 2018 (Attention U-Net)": "Oktay et al. [Oktay et al. 2018] — Attention U-Net",
        "AER-Net": "Método Proposto — AER-Net",
    },
    COLOUR_TABLE: {
        "AER-Net HSV": "HSV",
        "AER-Net RGB": "RGB",
        "AER-Net HSV + RGB": "HSV+RGB",
        "AER-Net grey": "tons de cinza",
        "AER-Net": "CIELAB",
    },
}
