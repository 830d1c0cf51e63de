"""Every row of the transfer-ensemble paper's tables as a configuration, and the paper's numbers.

Koohbanani, Jahanifar, Zamani Tajeddin, Gooya, Rajpoot, "Leveraging Transfer Learning for Segmenting
Lesions and their Attributes in Dermoscopy Images" (ISIC 2018 challenge report, arXiv:1809.10243).

- `TEConfig`: one frozen dataclass for the model, the data, the loss and the optimiser.
- `BASE`: the lesion task (section II.B) on a DenseNet169 encoder at 192 x 256.
- `ROWS`: one row per model for the lesion task (Tables I, II) and one per encoder x attribute for
  Task 2 (Table III); each row holds only its difference from `BASE`. The "Ensemble" rows of the
  tables are not trained: `python -m reproductions.transfer_ensemble.ensemble` combines runs.
- `PUBLISHED`: the paper's numbers (fractions), Tables I-III.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from common.data import ATTRIBUTES

__all__ = ["TEConfig", "BASE", "ROWS", "TABLES", "PUBLISHED", "MODELS", "MODEL_NAMES", "LESION_ROWS",
           "ATTRIBUTE_ENCODERS", "attribute_row", "PREPROCESSING"]

#: model key -> the name Table I prints (its "ResNet151" is ResNet152, its "ResNetv2" Inception-ResNet-v2)
MODEL_NAMES = {"densenet169": "DenseNet169", "resnet152": "ResNet152", "inceptionresnetv2": "Inception-ResNet-v2",
               "xception": "Xception", "deeplabv3plus": "DeepLabV3+"}
MODELS = tuple(MODEL_NAMES)
#: the encoders Table III trains per attribute (section IV.B: ResNet152, ResNetV2, DenseNet169)
ATTRIBUTE_ENCODERS = ("resnet152", "inceptionresnetv2", "densenet169")

#: input scaling per model (common.backbones.scaling modes on RGB in [0, 1]).
#: "paper" follows section II.A.2: ResNet152 and Inception-ResNet-v2 "subtracting the channel wise
#: mean of the ImageNet dataset" (Keras's caffe mode: BGR, mean subtracted, the ResNet weights' own),
#: DenseNet169 mean and standard deviation, Xception (-1, 1), DeepLabV3 (0, 1). "weights" follows
#: what keras.applications' (and the DeepLab reference's) weights were trained with; it differs for
#: Inception-ResNet-v2 (-1, 1) and DeepLabV3 (-1, 1).
PREPROCESSING = {
    "paper": {"densenet169": "torch", "resnet152": "caffe", "inceptionresnetv2": "caffe", "xception": "tf",
              "deeplabv3plus": "unit"},
    "weights": {"densenet169": "torch", "resnet152": "caffe", "inceptionresnetv2": "tf", "xception": "tf",
                "deeplabv3plus": "tf"},
}


@dataclass(frozen=True)
class TEConfig:
    """Everything that defines one run of the transfer-ensemble paper (a row of Tables I-III)."""

    CHOICES: ClassVar[dict[str, tuple]] = {
        "model": MODELS, "attribute": (None, *ATTRIBUTES), "dataset": ("isic2018", "isic2018_task2"),
        "loss": ("jaccard_bce", "squared_jaccard"), "optimizer": ("amsgrad",),
        "decay_mode": ("keras2", "coupled", "decoupled", "none"), "decoder_init": ("glorot_uniform", "he_normal"),
        "preprocessing": tuple(PREPROCESSING), "augment": ("paper", "flips", "none"),
        "negatives": ("match", "all"), "postprocess": ("double", "threshold"),
    }
    OPEN_FIELDS: ClassVar[dict[str, str]] = {"split": "a split spec (kfold:5,0.1, holdout:..., ...)",
                                             "encoder_weights": "imagenet, none or a weights file"}

    # --- model (section II.A.1, Fig. 1) ---
    model: str = "densenet169"  # Table I: DenseNet169, ResNet152, Inception-ResNet-v2, Xception, DeepLabV3
    encoder_weights: str | None = "imagenet"  # sec. II.A: ImageNet-pretrained encoders (DeepLab: Pascal VOC file)
    preprocessing: str = "paper"  # sec. II.A.2 as printed; "weights": what the pretrained weights expect
    pyramid_width: int = 256  # reference create_pyramid_features(feature_size=256); the paper gives none
    head_width: int = 128  # reference prediction_fpn_block: two 3x3 convs of 128 per level
    aggregation_width: int = 256  # reference "aggregation" conv_bn_relu(256)
    decoder_widths: tuple[int, int] = (128, 64)  # reference up4 (128, with the stride-2 skip) and up5 (64)
    decoder_init: str = "glorot_uniform"  # sec. II.B.2: uniform Glorot; the reference used he_normal
    deeplab_output_stride: int = 16  # DeepLab reference default OS=16: atrous rates 6, 12, 18
    deeplab_rates: tuple[int, int, int] = (6, 12, 18)  # the reference's rates at OS 16

    # --- data (sections II.A.2, III.A) ---
    attribute: str | None = None  # None: lesion (Task 1); else one ISIC 2018 Task 2 attribute (sec. II.C)
    dataset: str = "isic2018"  # ISIC 2018 Task 1 training images (2594); Task 2 for attributes
    split: str = "kfold:5,0.1"  # sec. II.B.2: 5-fold CV; a tenth of the 4 training folds chooses the checkpoint (ours)
    image_size: tuple[int, int] = (192, 256)  # sec. II.A.2: lesion 192 x 256 (attributes 384 x 576)
    augment: str = "paper"  # sec. II.A.3: every augmentation listed, on the fly
    negatives: str = "match"  # sec. II.C.1: as many images without the attribute as with it, drawn per fold

    # --- loss and optimiser (sections II.B.1-2, II.C.2) ---
    loss: str = "jaccard_bce"  # eq. 1 (alpha = beta = 1); attributes: eq. 3, squared Jaccard (alpha 0, beta 1)
    optimizer: str = "amsgrad"  # sec. II.B.2: AMSGrad variant of Adam
    learning_rate: float = 1e-4  # sec. II.B.2
    decay: float = 1e-4  # sec. II.B.2 "weight decay ... 1e-4"; see decay_mode
    decay_mode: str = "keras2"  # the reference's Adam(decay=...): Keras 2 lr / (1 + decay * step); see README
    batch_size: int = 16  # not given; the reference's default (params.py --batch_size 16)
    epochs: int = 70  # sec. II.B.2: 70 epochs per fold

    # --- inference (sections II.B.3, II.C.4) ---
    postprocess: str = "double"  # eq. 2: marker > T_H (largest object), mask > T_L, reconstruction
    threshold: float = 0.5  # validation during training, before (T_H, T_L) are chosen

    def __post_init__(self):
        size = self.image_size
        size = (size, size) if isinstance(size, int) else tuple(int(v) for v in size)
        object.__setattr__(self, "image_size", size * 2 if len(size) == 1 else size)
        problems = []
        if self.attribute is not None and self.attribute not in ATTRIBUTES:
            problems.append(f"attribute {self.attribute!r}: choose none (the lesion) or one of {', '.join(ATTRIBUTES)}")
        if self.attribute is not None and self.model == "deeplabv3plus":
            problems.append("the paper trains attributes on ResNet152, Inception-ResNet-v2 and DenseNet169 only")
        if min(self.pyramid_width, self.head_width, self.aggregation_width, *self.decoder_widths) < 1:
            problems.append("decoder widths must be positive")
        if self.deeplab_output_stride not in (8, 16):
            problems.append(f"deeplab_output_stride {self.deeplab_output_stride}: 8 or 16 (the reference's)")
        if self.decay < 0 or self.learning_rate <= 0:
            problems.append("learning_rate must be positive and decay non-negative")
        if problems:
            raise ValueError("invalid TEConfig: " + "; ".join(problems))

    @property
    def task_name(self) -> str:
        return "lesion" if self.attribute is None else self.attribute


BASE = TEConfig()

#: Tables I and II: one lesion row per model (Table I's order)
LESION_ROWS = {name: replace(BASE, model=key) for key, name in MODEL_NAMES.items()}


def attribute_row(model: str, attribute: str) -> str:
    """Row name of one Table III cell: ``"DenseNet169 (streaks)"``."""
    return f"{MODEL_NAMES[model]} ({attribute})"


_ATTRIBUTE_BASE = replace(BASE, dataset="isic2018_task2", image_size=(384, 576), loss="squared_jaccard")
ROWS: dict[str, TEConfig] = dict(LESION_ROWS)
for _model in ATTRIBUTE_ENCODERS:
    for _attribute in ATTRIBUTES:
        ROWS[attribute_row(_model, _attribute)] = replace(_ATTRIBUTE_BASE, model=_model, attribute=_attribute)

TABLES: dict[str, list[str]] = {
    "Table I": list(LESION_ROWS),
    "Table II": list(LESION_ROWS),
    "Table III": [attribute_row(m, a) for m in ATTRIBUTE_ENCODERS for a in ATTRIBUTES],
}

# The paper's numbers as printed (fractions). Table I's ResNet151 (T_H, T_L) is printed "(0.8, 35)":
# 0.35 is meant. Table III's attribute columns are keyed by the ISIC attribute names.
_T1 = ("thresholded_jaccard", "jaccard", "dice", "accuracy", "sensitivity", "specificity")
PUBLISHED: dict[str, dict[str, dict]] = {
    "Table I": {
        "DenseNet169": {"t_high": 0.8, "t_low": 0.5, **dict(zip(_T1, (0.7996, 0.8384, 0.9040, 0.9658, 0.9135, 0.9712)))},
        "ResNet152": {"t_high": 0.8, "t_low": 0.35, **dict(zip(_T1, (0.7991, 0.8368, 0.9032, 0.9648, 0.9200, 0.9665)))},
        "Inception-ResNet-v2": {"t_high": 0.8, "t_low": 0.4,
                                **dict(zip(_T1, (0.8034, 0.8402, 0.9049, 0.9658, 0.9180, 0.9717)))},
        "Xception": {"t_high": 0.8, "t_low": 0.5, **dict(zip(_T1, (0.7993, 0.8386, 0.9038, 0.9656, 0.9123, 0.9730)))},
        "DeepLabV3+": {"t_high": 0.8, "t_low": 0.5, **dict(zip(_T1, (0.7932, 0.8338, 0.9030, 0.9655, 0.9115, 0.9732)))},
        "Ensemble": {"t_high": 0.8, "t_low": 0.45, **dict(zip(_T1, (0.8142, 0.8468, 0.9100, 0.9680, 0.9209, 0.9732)))},
    },
    "Table II": {
        "DenseNet169": {"t_high": 0.8, "t_low": 0.65, "thresholded_jaccard": 0.826},
        "ResNet152": {"t_high": 0.8, "t_low": 0.65, "thresholded_jaccard": 0.831},
        "Inception-ResNet-v2": {"t_high": 0.8, "t_low": 0.65, "thresholded_jaccard": 0.791},
        "Xception": {"t_high": 0.8, "t_low": 0.5, "thresholded_jaccard": 0.799},
        "DeepLabV3+": {"t_high": 0.8, "t_low": 0.65, "thresholded_jaccard": 0.825},
        "Ensemble": {"t_high": 0.8, "t_low": 0.65, "thresholded_jaccard": 0.820},
    },
    "Table III": {},  # filled below: one row per encoder x attribute, as ROWS
}

# Table III as printed, (Jaccard, Dice) per base network and attribute, and the average over the five.
_TABLE_III = {
    "ResNet152": {"pigment_network": (0.527, 0.690), "globules": (0.304, 0.466), "milia_like_cyst": (0.144, 0.257),
                  "negative_network": (0.149, 0.260), "streaks": (0.125, 0.222), "average": (0.245, 0.379)},
    "Inception-ResNet-v2": {"pigment_network": (0.539, 0.706), "globules": (0.310, 0.473),
                            "milia_like_cyst": (0.159, 0.274), "negative_network": (0.189, 0.318),
                            "streaks": (0.121, 0.216), "average": (0.264, 0.397)},
    "DenseNet169": {"pigment_network": (0.538, 0.699), "globules": (0.324, 0.490), "milia_like_cyst": (0.158, 0.273),
                    "negative_network": (0.213, 0.351), "streaks": (0.134, 0.236), "average": (0.273, 0.410)},
    "Ensemble": {"pigment_network": (0.563, 0.720), "globules": (0.341, 0.508), "milia_like_cyst": (0.171, 0.289),
                 "negative_network": (0.228, 0.371), "streaks": (0.156, 0.270), "average": (0.292, 0.432)},
}
for _name, _cells in _TABLE_III.items():
    for _attribute, (_jac, _dice) in _cells.items():
        PUBLISHED["Table III"][f"{_name} ({_attribute})"] = {"jaccard": _jac, "dice": _dice}
