"""Every row of the thesis's tables as a configuration (Verdeguer 2020, chapters 5-6).

One frozen dataclass for the classifiers and the U-Net. The thesis (written in PyTorch) leaves much
unsaid; each choice it leaves open is a field with a one-line reason, listed again in the README.
Rows: five models x three experiments (``standard`` Table 6.1, ``balanced`` Table 6.2, ``cv`` Table
6.4) and the U-Net of section 5.5 (Table 6.6). ``PUBLISHED`` holds the thesis's numbers, as printed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from reproductions.isic2019_classifiers.data import BALANCED_CLASSES, CLASSES, EXPERIMENTS

#: the thesis's name of each model, as its tables print it
#: the classifiers, in the thesis's order (``models.build_classifier`` builds each)
MODELS = ("vgg16", "alexnet", "residual", "resnet101", "wide_resnet50_2")
MODEL_NAMES = {"vgg16": "VGG16", "alexnet": "AlexNet", "residual": "Residual net",
               "resnet101": "ResNet101", "wide_resnet50_2": "Wide ResNet"}
#: what each experiment splits (sections 5.2-5.4)
SPLITS = {"standard": "holdout:0.7,0.1,0.2", "balanced": "holdout:0.7,0.1,0.2", "cv": "kfold:5,0.125"}


@dataclass(frozen=True)
class ThesisConfig:
    """One row: a classifier on one experiment, or the U-Net."""

    CHOICES: ClassVar[dict[str, tuple]] = {
        "model": (*MODELS, "unet"), "experiment": (*EXPERIMENTS, "segmentation"),
        "dataset": ("isic2019", "isic2018"), "loss": ("categorical_ce", "dice", "bce"),
        "optimizer": ("adam",), "augment": ("none", "classification_train"),
        "sampling": ("uniform", "balanced"),
    }
    OPEN_FIELDS: ClassVar[dict[str, str]] = {"encoder_weights": "imagenet, none or a weights file",
                                             "split": "a split spec"}
    #: what records written before a field existed ran with
    RECORD_DEFAULTS: ClassVar[dict[str, object]] = {"sampling": "uniform"}

    model: str = "wide_resnet50_2"  # sections 2.3-2.5, 3.2: VGG16, AlexNet, own residual net, ResNet101, Wide ResNet
    experiment: str = "standard"  # 5.2 standard, 5.3 balanced (5 classes), 5.4 cv (5 folds); "segmentation" for the U-Net
    encoder_weights: str | None = None  # ImageNet for ResNet101 and Wide ResNet (section 3.2); the others from scratch
    dataset: str = "isic2019"  # section 4.1.2 (the U-Net: ISIC 2018 Task 1, section 4.1.1)
    split: str = "holdout:0.7,0.1,0.2"  # section 5.2: 70 / 10 / 20 (stratified: ours); cv: kfold:5,0.125
    n_classes: int = 8  # the eight diagnoses with images (UNK has none); balanced: 5
    image_size: tuple[int, int] = (256, 256)  # section 4.1.2: resized to 256 x 256 (the U-Net: 768 x 1024)
    augment: str = "none"  # section 4.3.2 says augmentation was done in PyTorch, not which: none by default
    sampling: str = "uniform"  # each image once per epoch (the thesis); "balanced": every class equally often (ours, for the CPU recipe)
    loss: str = "categorical_ce"  # categorical cross-entropy (the U-Net: Dice)
    optimizer: str = "adam"  # not stated: Adam (ours)
    learning_rate: float = 1e-4  # not stated: 1e-4, a usual rate for fine-tuning (ours)
    batch_size: int = 32  # not stated (ours)
    epochs: int = 100  # sections 5.2, 5.3, 5.5: 100 epochs per model
    residual_widths: tuple[int, ...] = (32, 64, 128, 256)  # the own residual net's widths: not given (ours)
    dropout: float = 0.25  # the own residual net's block dropout: not given (ours)
    unet_filters: tuple[int, ...] = (64, 128, 256, 512, 1024)  # the U-Net: Ronneberger et al.'s widths
    threshold: float = 0.5  # the U-Net's mask threshold (not stated)

    def __post_init__(self):
        if (self.model == "unet") != (self.experiment == "segmentation"):
            raise ValueError("the U-Net is the segmentation row (experiment=segmentation); the classifiers "
                             f"run standard, balanced or cv, got model={self.model!r}, experiment={self.experiment!r}")
        if self.experiment == "balanced" and self.n_classes != len(BALANCED_CLASSES):
            raise ValueError(f"the balanced experiment has {len(BALANCED_CLASSES)} classes, got n_classes={self.n_classes}")

    @property
    def class_names(self) -> tuple[str, ...]:
        return BALANCED_CLASSES if self.experiment == "balanced" else CLASSES[:self.n_classes]


BASE = ThesisConfig()
_PRETRAINED = {"resnet101": "imagenet", "wide_resnet50_2": "imagenet"}

ROWS: dict[str, ThesisConfig] = {}
for _experiment in EXPERIMENTS:
    for _model, _name in MODEL_NAMES.items():
        _row = _name if _experiment == "standard" else f"{_name} ({_experiment})"
        ROWS[_row] = replace(BASE, model=_model, experiment=_experiment, split=SPLITS[_experiment],
                             encoder_weights=_PRETRAINED.get(_model),
                             n_classes=len(BALANCED_CLASSES) if _experiment == "balanced" else len(CLASSES))
ROWS["U-Net"] = replace(BASE, model="unet", experiment="segmentation", dataset="isic2018", n_classes=1,
                        image_size=(768, 1024), loss="dice", encoder_weights=None)

TABLES: dict[str, list[str]] = {
    "Table 6.1": list(MODEL_NAMES.values()),
    "Table 6.2": [f"{n} (balanced)" for n in MODEL_NAMES.values()],
    "Table 6.3": list(MODEL_NAMES.values()),
    "Table 6.4": [f"{n} (cv)" for n in MODEL_NAMES.values()],
    "Table 6.6": ["U-Net"],
}

# The thesis's numbers as printed (fractions). Table 6.3's intervals are as printed; they do not
# follow from one formula and one test-set size (see the README).
PUBLISHED: dict[str, dict[str, dict]] = {
    "Table 6.1": {"VGG16": {"loss": 0.915, "accuracy": 0.508, "balanced_accuracy": 0.125},
                  "AlexNet": {"loss": 0.067, "accuracy": 0.643, "balanced_accuracy": 0.294},
                  "Residual net": {"loss": 0.1, "accuracy": 0.703, "balanced_accuracy": 0.547},
                  "ResNet101": {"loss": 0.05, "accuracy": 0.709, "balanced_accuracy": 0.630},
                  "Wide ResNet": {"loss": 0.063, "accuracy": 0.726, "balanced_accuracy": 0.651}},
    "Table 6.2": {"VGG16 (balanced)": {"loss": 0.101, "accuracy": 0.125, "balanced_accuracy": 0.125},
                  "AlexNet (balanced)": {"loss": 0.08, "accuracy": 0.233, "balanced_accuracy": 0.233},
                  "Residual net (balanced)": {"loss": 0.1, "accuracy": 0.344, "balanced_accuracy": 0.344},
                  "ResNet101 (balanced)": {"loss": 0.05, "accuracy": 0.303, "balanced_accuracy": 0.303},
                  "Wide ResNet (balanced)": {"loss": 0.063, "accuracy": 0.356, "balanced_accuracy": 0.356}},
    "Table 6.3": {"VGG16": {"accuracy": 0.125, "ci_low": 0.1224, "ci_high": 0.1276},
                  "AlexNet": {"accuracy": 0.631, "ci_low": 0.6252, "ci_high": 0.6368},
                  "Residual net": {"accuracy": 0.703, "ci_low": 0.6962, "ci_high": 0.7098},
                  "ResNet101": {"accuracy": 0.733, "ci_low": 0.7248, "ci_high": 0.7412},
                  "Wide ResNet": {"accuracy": 0.742, "ci_low": 0.7358, "ci_high": 0.7482}},
    "Table 6.4": {"VGG16 (cv)": {"folds": (0.125,) * 5, "balanced_accuracy": 0.125},
                  "AlexNet (cv)": {"folds": (0.294, 0.317, 0.4, 0.366, 0.346), "balanced_accuracy": 0.345},
                  "Residual net (cv)": {"folds": (0.547, 0.528, 0.554, 0.556, 0.524), "balanced_accuracy": 0.542},
                  "ResNet101 (cv)": {"folds": (0.630, 0.601, 0.635, 0.623, 0.580), "balanced_accuracy": 0.614},
                  "Wide ResNet (cv)": {"folds": (0.651, 0.632, 0.609, 0.566, 0.603), "balanced_accuracy": 0.612}},
    "Table 6.5": {"Ensemble of Multi-Res EfficientNets + SEN154 2": {"balanced_accuracy": 0.636},
                  "Ensemble of EfficientNetB3-B4-Seresnext101": {"balanced_accuracy": 0.607},
                  "Ensemble, ood threshold 100 %": {"balanced_accuracy": 0.593},
                  "13 models + hierarchical approach to select outliers": {"balanced_accuracy": 0.578}},
    "Table 6.6": {"U-Net": {"jaccard": 0.773},
                  "MaskRcnn2+segmentation": {"jaccard": 0.802},
                  "Ensemble_with_CRF_v3": {"jaccard": 0.799},
                  "Automatic Skin Lesion Segmentation by DCNN": {"jaccard": 0.799},
                  "Skin Lesion Segmentation with Adversarial Learning": {"jaccard": 0.798}},
}
