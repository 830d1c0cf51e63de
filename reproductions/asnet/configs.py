"""ASNet (Zhu et al., SPIE Medical Imaging 2020): the rows of Table 2 as configurations.

BASE is the full ASNet; every other row is `replace(BASE, ...)` with only what that row changes.
PUBLISHED holds Table 2's numbers as fractions: mean and, under "<metric>_std", the standard deviation
over the 5 folds. MultiResU-Net's Table 2 line is a number the paper cites from Ibtehaz & Rahman
(2020), not an architecture of this paper; it is in PUBLISHED and CITED_ONLY, not in ROWS.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar


@dataclass(frozen=True)
class Config:
    """One row of Table 2: model, data and training settings."""

    #: the values each text field accepts (the runner refuses others, naming these)
    CHOICES: ClassVar[dict[str, tuple]] = {
        "architecture": ("encoder_unet", "unet"), "asm_fusion": ("scale_aware", "mean"), "dataset": ("isic2018",),
        "preprocessing": ("none", "tf"), "augment": ("flip_lr", "none"), "loss": ("dice_ce_loss",),
        "optimizer": ("sgd",), "lr_schedule": ("poly", "constant"),
    }
    #: text fields checked by their own parser
    OPEN_FIELDS: ClassVar[dict[str, str]] = {
        "encoder": "an encoder of common.backbones (the error lists them)",
        "encoder_weights": "imagenet, none or a weights file", "split": "a split spec"}

    # ---- model (sections 2.1-2.3, Fig. 2)
    architecture: str = "encoder_unet"  # "encoder_unet": pretrained-encoder U-shape net (section 2.1); "unet": Table 2's U-Net row
    encoder: str = "resnet34"  # section 2.1: "ResNet34 with pre-trained weights is applied as the encoder"
    encoder_weights: str | None = "imagenet"  # section 2.1: pre-trained (image-classifiers ImageNet ResNet34); None / a path also accepted
    decoder_filters: tuple[int, ...] = (256, 128, 64, 32, 16)  # not given in the paper: segmentation-models' U-Net decoder widths (P4..full resolution)
    decoder_convs: int = 2  # 3x3 conv-BN-ReLU per decoder stage (Fig. 2: "3x3 convolution, bilinear interpolation up-sampling")
    decoder_residual_blocks: tuple[int, ...] = (0, 0, 0, 0, 0)  # basic residual blocks after each decoder stage; "Baseline_Wide" adds them (section 3.2)
    use_asm: bool = True  # section 2.2: the adaptive scale module on top of the encoder
    asm_dilation_rates: tuple[int, ...] = (1, 2, 4)  # section 2.2: "dilation rates of 1, 2 and 4", one shared kernel
    asm_fusion: str = "scale_aware"  # section 2.3: two cascaded scale-aware modules; "mean" = Table 2's ASM_w/o_SA
    sam_channels: int = 128  # not given: hidden width of the SAM's "series of convolutions" (Fig. 3)
    asm_beta_init: float = 0.0  # section 2.2: learnable residual weight beta; its initial value is not given (0 as in DANet)
    unet_filters: tuple[int, ...] = (64, 128, 256, 512, 1024)  # "U-Net" row: Ronneberger et al. 2015's widths

    # ---- data (sections 2.5, 3.1)
    dataset: str = "isic2018"  # section 3.1: ISIC 2018 Task 1 (lesion boundary segmentation)
    split: str = "kfold:5"  # section 2.5: 5-fold cross-validation of every Table 2 row over the 2594 images (section 3.1); train with --fold K or --fold all
    image_size: tuple[int, int] = (192, 256)  # (H, W); section 2.5: "resized the image to 256x192 while maintaining the average aspect ratio" (ISIC images are landscape 4:3)
    preprocessing: str = "none"  # the ResNet34's bn_data layer normalises raw 0-255 RGB (common.backbones.preprocessing_mode("resnet34"))
    augment: str = "flip_lr"  # section 2.5: "Online randomly left-right flipping"

    # ---- training (sections 2.4-2.5)
    loss: str = "dice_ce_loss"  # eq. 3: Dice + cross-entropy (common.losses.dice_ce_loss)
    optimizer: str = "sgd"  # section 2.5: stochastic gradient descent
    learning_rate: float = 0.01  # section 2.5: "basic learning rate is set to 0.01"
    momentum: float = 0.9  # section 2.5
    weight_decay: float = 1e-4  # section 2.5: 0.0001
    lr_schedule: str = "poly"  # section 2.5: lr = base * (1 - step / total_steps) ** power
    lr_power: float = 0.9  # section 2.5: "the power is set to 0.9"
    batch_size: int = 12  # section 2.5
    epochs: int = 100  # not given in the paper: ours
    threshold: float = 0.5  # probability -> mask for the metrics (not stated; the usual 0.5)
    bn_momentum: float = 0.9  # not given: PyTorch's default BN momentum 0.1 (= Keras 0.9), set on every BN layer by paper.py; Keras's 0.99 leaves the moving statistics far behind in short runs


BASE = Config()

# Table 2, in the paper's order (MultiResU-Net excluded: cited, see CITED_ONLY).
ROWS: dict[str, Config] = {
    # plain U-Net trained from scratch; widths 64-1024, BN after each conv, transposed-conv up-sampling
    "U-Net": replace(BASE, architecture="unet", use_asm=False, encoder_weights=None, preprocessing="tf"),
    # "The basic U-shape model with the pre-trained ResNet34 backbone is taken as the Baseline"
    "Baseline": replace(BASE, use_asm=False),
    # "an ASM module without dilation convolution (ASM_w/o_DI)"
    "Baseline_ASM_w/o_DI": replace(BASE, asm_dilation_rates=(1, 1, 1)),
    # "an ASM without Scale-Aware module (ASM_w/o_SA)": branches averaged instead of attention-fused
    "Baseline_ASM_w/o_SA": replace(BASE, asm_fusion="mean"),
    # "adding multiple residual blocks in decoder" to match ASNet's complexity: 3 basic blocks after
    # each of the four skip-merging decoder stages, 29,167,706 parameters vs ASNet's 29,182,303
    "Baseline_Wide": replace(BASE, use_asm=False, decoder_residual_blocks=(3, 3, 3, 3, 0)),
    "ASNet": BASE,
}

TABLES: dict[str, list[str]] = {"Table 2": list(ROWS)}

# Table 2 (5-fold cross-validation on ISIC 2018, mean +- standard deviation), as fractions.
PUBLISHED: dict[str, dict[str, dict[str, float]]] = {
    "Table 2": {
        "U-Net": {
            "jaccard": 0.7870, "jaccard_std": 0.00317,
            "dice": 0.8658, "dice_std": 0.00376,
            "accuracy": 0.9506, "accuracy_std": 0.00251,
        },
        "MultiResU-Net": {"jaccard": 0.8030, "jaccard_std": 0.00372},  # Dice and accuracy not reported ("\")
        "Baseline": {
            "jaccard": 0.8112, "jaccard_std": 0.00551,
            "dice": 0.8790, "dice_std": 0.00561,
            "accuracy": 0.9569, "accuracy_std": 0.00617,
        },
        "Baseline_ASM_w/o_DI": {
            "jaccard": 0.8156, "jaccard_std": 0.00353,
            "dice": 0.8825, "dice_std": 0.00433,
            "accuracy": 0.9580, "accuracy_std": 0.00305,
        },
        "Baseline_ASM_w/o_SA": {
            "jaccard": 0.8179, "jaccard_std": 0.00425,
            "dice": 0.8846, "dice_std": 0.00532,
            "accuracy": 0.9592, "accuracy_std": 0.00359,
        },
        "Baseline_Wide": {
            "jaccard": 0.8173, "jaccard_std": 0.00376,
            "dice": 0.8841, "dice_std": 0.00438,
            "accuracy": 0.9590, "accuracy_std": 0.00342,
        },
        "ASNet": {
            "jaccard": 0.8215, "jaccard_std": 0.00328,
            "dice": 0.8888, "dice_std": 0.00390,
            "accuracy": 0.9600, "accuracy_std": 0.00228,
        },
    }
}

# Table 2 lines the paper reports from other publications; no configuration reproduces them here.
CITED_ONLY: dict[str, str] = {
    "MultiResU-Net": "Ibtehaz & Rahman 2020 (Neural Networks 121), reference [2] of the paper; evaluated there",
}
