"""Configurations of every SLSNet row the paper reports, and the paper's numbers.

Sarker et al., "SLSNet: Skin lesion segmentation using a lightweight generative adversarial
network", Expert Systems With Applications 183 (2021) 115433.

- `SLSNetConfig`: one frozen dataclass for data, generator, discriminator, losses and training.
- `BASE`: SLSNet as proposed (Sections 3-4): 128 x 128, multiscale block, PAM, CAM,
  adversarial + L1 + Jaccard losses, ISBI 2017 (= ISIC 2017 Task 1) official split.
- `ROWS`: every row of Tables 3-8 that is ours, in the order the tables first show them;
  each row is `BASE` with only its difference.
- `TABLES`: which `ROWS` each paper table holds. Rows with an equal configuration are the
  same experiment (`canonical_row` names the first); Table 7 repeats Table 5's rows.
- `PUBLISHED`: the paper's numbers, metrics as fractions in [0, 1], including the literature
  rows of Tables 3-5 (those are not in `ROWS`; they are only quoted).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

__all__ = [
    "SLSNetConfig", "BASE", "ROWS", "TABLES", "PUBLISHED", "LOSSES", "AUGMENTATIONS", "SPLITS",
    "canonical_row", "get_row",
]

LOSSES = ("adversarial", "l1", "jaccard", "bce")
L1_REDUCTIONS = ("mean", "sum")  # per-image reduction of the L1 term (the paper does not say)
JACCARD_REDUCTIONS = ("image", "batch")  # sums of the Jaccard term per image or over the batch
AUGMENTATIONS = ("offline", "online", "none")
SPLITS = ("official", "holdout", "count", "kfold")  # kinds of split spec (common.data.splits.make_split)


@dataclass(frozen=True)
class SLSNetConfig:
    """Everything that defines one SLSNet experiment (a row of Tables 3-8)."""

    #: the values each text field accepts (the runner refuses others, naming these)
    CHOICES: ClassVar[dict[str, tuple]] = {"augmentation": AUGMENTATIONS, "dataset": ("isic2017", "isic2018"),
                                           "l1_reduction": L1_REDUCTIONS,
                                           "jaccard_reduction": JACCARD_REDUCTIONS}
    #: fields added after runs were recorded, and what a record without them ran with
    RECORD_DEFAULTS: ClassVar[dict[str, object]] = {"l1_reduction": "mean", "jaccard_reduction": "image",
                                                    "bce_weight": 1.0}
    #: text fields checked by their own parser
    OPEN_FIELDS: ClassVar[dict[str, str]] = {"split": "a split spec (official, holdout:..., count:..., kfold:...)",
                                             "losses": "a non-empty subset of LOSSES (checked below)"}

    # --- data (Section 4.1, Table 2) ---
    dataset: str = "isic2017"  # ISBI 2017 (ISIC 2017 Task 1) for Tables 3, 5-8 (Sec. 4.1)
    split: str = "official"  # ISBI 2017: official 2000 train / 150 val / 600 test (Table 2)
    image_size: tuple[int, int] = (128, 128)  # (H, W); Sec. 4.4: 128 x 128 gave the best results (Table 7). An int N means (N, N)
    in_channels: int = 3  # RGB dermoscopic images (Sec. 3)
    augmentation: str = "offline"  # Sec. 4.3: flips, gamma, CLAHE expand the set 8x; "online" was similar
    threshold: float = 0.5  # Sec. 3.2: the sigmoid output is binarised at 0.5

    # --- generator (Section 3.1-3.2, Fig. 1) ---
    use_multiscale: bool = True  # Sec. 3.1 multiscale block; Table 6 "w/o MS" drops it
    use_pam: bool = True  # Sec. 3.1.2 PAM after each down/upsampling and as a branch; Table 6 "BL + PAM"
    use_cam: bool = True  # Sec. 3.1.1 CAM in every FAM, the multiscale block and a branch; Table 6 "BL + CAM"
    multiscale_width: int = 16  # Sec. 3.1: four feature maps of 16 channels
    multiscale_factors: tuple[int, ...] = (1, 2, 4, 8)  # Sec. 3.1: full, 1/2, 1/4 and 1/8 of the input
    widths: tuple[int, int, int] = (16, 64, 128)  # not given; ERFNet's encoder widths -> 2.3 M params (paper: 2.35 M)
    num_fams: tuple[int, int] = (4, 8)  # Fig. 1: four FAMs at 1/4, eight FAMs at 1/8 resolution
    fam_dilations: tuple[int, ...] = (1, 1, 1, 1, 1, 1, 1, 1)  # not stated; the 1/8 maps are only 16 x 16
    decoder_widths: tuple[int, int] = (64, 16)  # not given; ERFNet's decoder widths
    decoder_fams: int = 2  # Sec. 3.2: each decoder group has two FAMs
    pam_reduction: int = 8  # B, C of eq. 3 with C/8 channels as in DANet's and the authors' code
    dropout: float = 0.5  # Sec. 3.4: the noise z is dropout in the decoder; pix2pix's rate
    disc_widths: tuple[int, int, int] = (64, 128, 256)  # Sec. 3.3: three 4x4 stride-2 convs; pix2pix widths

    # --- losses (eq. 7, Table 8) ---
    losses: tuple[str, ...] = ("adversarial", "l1", "jaccard")  # eq. 7; Table 8's "BCE" is the adversarial -log D(x, G(x, z))
    adversarial_weight: float = 1.0  # eq. 7: weight 1 on the adversarial term
    l1_weight: float = 0.1  # Sec. 4.3: lambda = 0.1
    l1_reduction: str = "mean"  # not stated: "mean" over each image's pixels, or "sum" (lambda then acts H*W times)
    jaccard_weight: float = 0.5  # Sec. 4.3: alpha = 0.5 (soft Jaccard loss, eq. 9)
    jaccard_reduction: str = "image"  # not stated: eq. 9's sums per image (then the batch mean), or over the batch
    bce_weight: float = 1.0  # "bce" in losses: a pixel-wise BCE between G(x, z) and y (another reading of Table 8's "BCE")

    # --- optimisation (Sections 3.4 and 4.3) ---
    learning_rate: float = 2e-4  # Sec. 4.3: Adam, lr 0.0002
    beta_1: float = 0.5  # Sec. 4.3
    beta_2: float = 0.999  # Sec. 4.3
    batch_size: int = 8  # Sec. 4.3
    epochs: int = 100  # not reported (Sec. 4.3 only gives ~8 h on a GTX 1080Ti); our choice

    def __post_init__(self):
        if isinstance(self.image_size, int):            # one representation: (H, W)
            object.__setattr__(self, "image_size", (self.image_size, self.image_size))
        else:
            size = tuple(int(v) for v in self.image_size)
            object.__setattr__(self, "image_size", size * 2 if len(size) == 1 else size)
        problems = []
        if self.image_size[0] != self.image_size[1]:
            problems.append(f"image_size {self.image_size[0]}x{self.image_size[1]}: SLSNet takes square images "
                            "(the paper's 64, 128 and 256)")
        if self.split.partition(":")[0] not in SPLITS:
            problems.append(f"split {self.split!r} is not one of {SPLITS} (e.g. official, holdout:0.8,0.2)")
        if self.augmentation not in AUGMENTATIONS:
            problems.append(f"augmentation {self.augmentation!r} is not one of {AUGMENTATIONS}")
        for name, allowed in (("l1_reduction", L1_REDUCTIONS), ("jaccard_reduction", JACCARD_REDUCTIONS)):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} {getattr(self, name)!r} is not one of {allowed}")
        for name in ("adversarial_weight", "l1_weight", "jaccard_weight", "bce_weight", "learning_rate"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                problems.append(f"{name} {value} must be a finite number >= 0")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate {self.learning_rate} must be > 0")
        unknown = [name for name in self.losses if name not in LOSSES]
        if unknown or not self.losses:
            problems.append(f"losses {self.losses!r} must be a non-empty subset of {LOSSES}")
        multiple = math.lcm(8, *self.multiscale_factors)
        if self.image_size[0] % multiple:
            problems.append(f"image_size {self.image_size[0]} must be a multiple of {multiple} "
                            "(three 2x downsamplings and the multiscale factors)")
        if len(self.fam_dilations) != self.num_fams[1]:
            problems.append(f"fam_dilations has {len(self.fam_dilations)} entries for "
                            f"{self.num_fams[1]} FAMs at 1/8 resolution")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout {self.dropout} must be in [0, 1)")
        if problems:
            raise ValueError("invalid SLSNetConfig: " + "; ".join(problems))


BASE = SLSNetConfig()

ROWS: dict[str, SLSNetConfig] = {
    # Table 3: ISBI 2017 test set, official split (this is BASE).
    "SLSNet (ISIC 2017)": BASE,
    # Table 4: ISIC 2018, 80 % of the training set to train and 20 % to validate (Sec. 4.1). The 20 %
    # score the run; the checkpoint is chosen on a tenth of the 80 % (72 / 8 / 20), so the images
    # that select it are not the ones that score it.
    "SLSNet (ISIC 2018)": replace(BASE, dataset="isic2018", split="holdout:0.72,0.08,0.2"),
    # Table 5 (and Table 7): input resolution.
    "SLSNet 64": replace(BASE, image_size=64),
    "SLSNet 128": BASE,
    "SLSNet 256": replace(BASE, image_size=256),
    # Table 6: ablation of PAM, CAM and the multiscale block (Sec. 4.5).
    "BL GAN": replace(BASE, use_multiscale=False, use_pam=False, use_cam=False),
    "BL + PAM": replace(BASE, use_multiscale=False, use_cam=False),
    "BL + CAM": replace(BASE, use_multiscale=False, use_pam=False),
    "BL + PAM + CAM w/o MS": replace(BASE, use_multiscale=False),
    "SLSNet": BASE,
    # Table 8: the generator's loss terms (eq. 7).
    "SLSNet + BCE": replace(BASE, losses=("adversarial",)),
    "SLSNet + BCE + L1": replace(BASE, losses=("adversarial", "l1")),
    "SLSNet + BCE + Jaccard": replace(BASE, losses=("adversarial", "jaccard")),
    "SLSNet + BCE + L1 + Jaccard": BASE,
    # Not the paper's rows: the best-behaved reading of eq. 7 on ISIC 2017 (the README's "On its own
    # dataset"): L1 summed over each image's pixels, so lambda = 0.1 weighs it H*W/10 times as much as
    # the mean; as printed (a mean) the adversarial term's gradient is 30-150x the supervised one's
    # and G does not learn. In no paper table.
    "SLSNet (as it trains)": replace(BASE, l1_reduction="sum"),
    "SLSNet 64 (as it trains)": replace(BASE, image_size=64, l1_reduction="sum"),
}

TABLES: dict[str, list[str]] = {
    "Table 3": ["SLSNet (ISIC 2017)"],
    "Table 4": ["SLSNet (ISIC 2018)"],
    "Table 5": ["SLSNet 64", "SLSNet 128", "SLSNet 256"],
    "Table 6": ["BL GAN", "BL + PAM", "BL + CAM", "BL + PAM + CAM w/o MS", "SLSNet"],
    "Table 7": ["SLSNet 64", "SLSNet 128", "SLSNet 256"],
    "Table 8": ["SLSNet + BCE", "SLSNet + BCE + L1", "SLSNet + BCE + Jaccard",
                "SLSNet + BCE + L1 + Jaccard"],
}


def canonical_row(name: str) -> str:
    """The first row of `ROWS` whose configuration equals row ``name``'s (same experiment)."""
    config = get_row(name)
    return next(row for row, other in ROWS.items() if other == config)


def get_row(name: str) -> SLSNetConfig:
    """The configuration of row ``name``; a `KeyError` lists the known rows."""
    try:
        return ROWS[name]
    except KeyError:
        raise KeyError(f"unknown SLSNet row {name!r}; known rows: {', '.join(ROWS)}") from None


def _seg(accuracy, dice, jaccard, sensitivity, specificity, **extra):
    """A row of Tables 3, 6-8: percentages as printed, stored as fractions (None = '-')."""
    row = {"accuracy": accuracy, "dice": dice, "jaccard": jaccard,
           "sensitivity": sensitivity, "specificity": specificity}
    row = {key: (None if value is None else round(value / 100.0, 6)) for key, value in row.items()}
    row.update(extra)
    return row


def _speed(ms, fps, macs_g):
    """A cell group of Table 5: latency in ms, frames per second, MACs in G (as printed)."""
    return {"latency_ms": ms, "fps": fps, "macs_g": macs_g}


PUBLISHED: dict[str, dict[str, dict[str, float | None]]] = {
    # Table 3: ISBI 2017 test set; Params (M) in millions. Literature rows are quoted by the paper.
    "Table 3": {
        "FCN": _seg(92.72, 83.83, 72.17, 79.98, 96.66, params_m=134.3),
        "U-Net": _seg(90.14, 76.27, 61.64, 67.15, 97.24, params_m=12.3),
        "SegNet": _seg(91.76, 82.09, 69.63, 80.05, 95.37, params_m=11.50),
        "FrCN": _seg(94.03, 87.08, 77.11, 85.40, 96.69, params_m=16.30),
        "SLSDeep": _seg(93.60, 87.80, 78.2, 81.60, 98.30, params_m=46.65),
        "YOLO+grabcut": _seg(93.39, 84.26, 74.81, 90.82, 92.68, params_m=None),
        "LCASA-Net": _seg(94.70, 87.90, 80.90, None, None, params_m=0.49),
        "ENet": _seg(92.0, 82.7, 74.1, None, None, params_m=0.36),
        "SegAN": _seg(94.10, 86.70, 78.50, None, None, params_m=382.17),
        "DAGAN": _seg(93.50, 85.90, 77.1, 83.50, 97.60, params_m=None),
        "SLSNet (ISIC 2017)": _seg(97.61, 90.63, 81.98, 87.81, 99.92, params_m=2.35),
    },
    # Table 4: ISIC 2018 validation leaderboard, thresholded Jaccard (eq. 17).
    "Table 4": {
        "FCN": {"thresholded_jaccard": 0.7470, "params_m": 134.30},
        "U-Net": {"thresholded_jaccard": 0.5440, "params_m": 12.30},
        "SegNet": {"thresholded_jaccard": 0.6950, "params_m": 11.50},
        "FrCN": {"thresholded_jaccard": 0.7460, "params_m": 16.30},
        "Rcnn-superpixels": {"thresholded_jaccard": 0.8300, "params_m": None},
        "Mask R-CNN": {"thresholded_jaccard": 0.7880, "params_m": None},
        "GAN-FCN": {"thresholded_jaccard": 0.7780, "params_m": 10.61},
        "SLSNet (ISIC 2018)": {"thresholded_jaccard": 0.7840, "params_m": 2.35},
    },
    # Table 5: inference time (GTX 1080Ti, PyTorch) and MACs per image, by input size.
    "Table 5": {
        "GAN-FCN 64": _speed(9, 120.64, 0.37),
        "GAN-FCN 128": _speed(14, 87.62, 1.51),
        "GAN-FCN 256": _speed(21, 57.15, 6.06),
        "ENet 64": _speed(2, 273.65, 0.03),
        "ENet 128": _speed(3, 136.84, 0.13),
        "ENet 256": _speed(7, 91.29, 0.50),
        "SLSNet 64": _speed(5, 168.71, 0.23),
        "SLSNet 128": _speed(8, 110.3, 0.90),
        "SLSNet 256": _speed(14, 78.63, 3.16),
    },
    # Table 6: ablation on the ISBI 2017 test set, MACs(G) at 128 x 128.
    "Table 6": {
        "BL GAN": _seg(95.63, 83.61, 72.93, 79.42, 96.91, macs_g=0.85),
        "BL + PAM": _seg(96.72, 86.01, 75.96, 82.48, 98.40, macs_g=0.88),
        "BL + CAM": _seg(96.90, 87.23, 76.65, 83.31, 99.10, macs_g=0.85),
        "BL + PAM + CAM w/o MS": _seg(97.25, 88.87, 78.76, 85.49, 99.59, macs_g=0.88),
        "SLSNet": _seg(97.61, 90.63, 81.98, 87.81, 99.92, macs_g=0.90),
    },
    # Table 7: input resolution on the ISBI 2017 test set (256: 3.61 here, 3.16 in Table 5).
    "Table 7": {
        "SLSNet 64": _seg(94.44, 87.59, 77.76, 84.16, 95.36, macs_g=0.23),
        "SLSNet 128": _seg(97.61, 90.63, 81.98, 87.81, 99.92, macs_g=0.90),
        "SLSNet 256": _seg(96.72, 89.72, 79.49, 86.36, 98.21, macs_g=3.61),
    },
    # Table 8: loss terms on the ISBI 2017 test set.
    "Table 8": {
        "SLSNet + BCE": _seg(95.32, 85.11, 74.48, 83.71, 98.02),
        "SLSNet + BCE + L1": _seg(96.90, 87.26, 76.80, 85.05, 99.30),
        "SLSNet + BCE + Jaccard": _seg(96.97, 89.56, 79.88, 86.90, 99.49),
        "SLSNet + BCE + L1 + Jaccard": _seg(97.61, 90.63, 81.98, 87.81, 99.92),
    },
}
