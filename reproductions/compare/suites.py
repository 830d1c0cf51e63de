"""The comparison suites: data, in one readable place.

A *suite* is a named list of entries (paper, row, overrides) with one dataset, one split with a
fixed seed, and one budget (image size, epochs, batch size, encoder weights) that every entry takes
unless it says otherwise and why. An entry is a run of the shared runner (``paper`` and ``row``),
an ensemble of other entries' runs (``members``, scored with ``evaluate``'s views and
post-processing), or a classical baseline that needs no training (``baseline``).

Adding an entry is one line here; adding a suite is one ``Suite(...)`` in :data:`SUITES`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Budget:
    """What every entry of a suite trains with, unless the entry says otherwise (and why)."""

    image_size: str | None = None        # "N" or "HxW"; None: each row's own (the paper's) size
    epochs: int | None = None            # None: each row's own
    batch_size: int | None = None        # None: each row's own
    encoder_weights: str | None = None   # "none" (from scratch), "imagenet", or None (each row's)
    bn_recalibrate: int = 0              # BatchNorm statistics recomputed before scoring (short runs)

    def argv(self) -> list[str]:
        out = []
        for option, value in (("--image-size", self.image_size), ("--epochs", self.epochs),
                              ("--batch-size", self.batch_size), ("--encoder-weights", self.encoder_weights)):
            if value is not None:
                out += [option, str(value)]
        if self.bn_recalibrate:
            out += ["--bn-recalibrate", str(self.bn_recalibrate)]
        return out


@dataclass(frozen=True)
class Entry:
    """One line of a leaderboard.

    Attributes:
        name: the entry's name in the leaderboard (and its run folder's).
        paper / row: the runner's paper and table row (None for ensembles and baselines).
        overrides: ``--set key=value`` items on top of the row (the entry's own config).
        budget: replaces the suite's budget fields it sets, for this entry only.
        why: why the entry differs from the suite's budget or from its paper (shown in the table).
        members: an ensemble of these entries' runs (same paper and image size).
        evaluate: ``evaluate`` options for scoring (``--tta five --postprocess double``).
        baseline: a classical method of ``common.baselines``: "otsu" (segmentation; no training) or
            "colour-histogram" (classification; fitted on the suite's training part in seconds).
    """

    name: str
    paper: str | None = None
    row: str | None = None
    overrides: tuple[str, ...] = ()
    budget: dict = field(default_factory=dict)
    why: str = ""
    members: tuple[str, ...] = ()
    evaluate: tuple[str, ...] = ()
    baseline: str | None = None

    @property
    def kind(self) -> str:
        return "baseline" if self.baseline else "ensemble" if self.members else "run"


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    dataset: str                      # what --data-dir must hold (the reader's name)
    split: str                        # one split spec for every entry (holdout:...,  kfold:K)
    budget: Budget
    entries: tuple[Entry, ...]
    seed: int = 0
    run_here: bool = True             # False: a GPU suite, for --plan (the papers' own settings)
    extra_argv: tuple[str, ...] = ()  # options every entry's train command takes (e.g. --synthetic-size)
    task: str = "segmentation"        # "classification": the ISIC 2019 balanced accuracy, per-class recall
    checkpoint: str | None = None     # the kept checkpoint each run is scored at (None: the run's main one)

    def entry(self, name: str) -> Entry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(f"suite {self.name!r} has no entry {name!r}; its entries: "
                       + ", ".join(e.name for e in self.entries))

    def budget_of(self, entry: Entry) -> Budget:
        return replace(self.budget, **entry.budget)


#: Each paper's main segmentation model, the generator of SLSNet alone, the transfer ensemble's two
#: U-Nets and their ensemble, and the Otsu baseline: the entries of every segmentation suite.
SEGMENTATION_ENTRIES = (
    Entry("SLSNet (as printed)", "slsnet", "SLSNet", ("augmentation=online",),
          why="online augmentation (the paper found it similar to its 8x offline set), so that an epoch is one "
              "pass over the training images, as for every other entry"),
    Entry("SLSNet generator alone", "slsnet", "SLSNet", ("augmentation=online", "losses=l1,jaccard"),
          why="no adversarial term: the generator trained on L1 + Jaccard (a variant, not the paper's row)"),
    Entry("AER-Net", "aernet", "AER-Net"),
    Entry("ASNet", "asnet", "ASNet"),
    Entry("Transfer ensemble: Xception U-Net", "transfer_ensemble", "Xception"),
    Entry("Transfer ensemble: DenseNet169 U-Net", "transfer_ensemble", "DenseNet169"),
    Entry("Transfer ensemble: ensemble", members=("Transfer ensemble: Xception U-Net",
                                                  "Transfer ensemble: DenseNet169 U-Net"),
          evaluate=("--tta", "five", "--postprocess", "double"),
          why="the two U-Nets' maps averaged over the paper's five views, then its double threshold"),
    Entry("Thesis U-Net", "isic2019_classifiers", "U-Net"),
    Entry("Otsu (blue channel)", baseline="otsu",
          why="no training: Otsu's threshold, largest component, holes filled"),
)

#: The thesis's classifiers at a CPU budget, its own residual net also with the package's CPU recipe,
#: and the colour-histogram baseline: the entries of the ISIC 2019 classification suite.
CLASSIFICATION_ENTRIES = (
    Entry("Residual net (CPU recipe)", "isic2019_classifiers", "Residual net",
          ("sampling=balanced", "augment=classification_train", "learning_rate=0.001"), budget={"epochs": 15},
          why="the package README's CPU recipe: every class equally often per epoch, the mild augmentation, "
              "Adam at 1e-3 (a variant of the row)"),
    Entry("Residual net", "isic2019_classifiers", "Residual net", why="the thesis's settings"),
    Entry("AlexNet", "isic2019_classifiers", "AlexNet", budget={"bn_recalibrate": 0},
          why="the thesis's settings; no BatchNorm to recalibrate"),
    Entry("VGG16", "isic2019_classifiers", "VGG16", budget={"epochs": 2, "bn_recalibrate": 0},
          why="the thesis's settings, 2 epochs (about 7 minutes per epoch on a 2-core CPU); no BatchNorm"),
    Entry("Colour histogram + logistic regression", baseline="colour-histogram",
          why="joint RGB histograms, class-balanced logistic regression fitted on the training part, "
              "its L2 strength chosen on the validation part"),
)

SUITES: dict[str, Suite] = {
    # The CPU budget: a size every network's stride divides (64 = 2^6, 64x96 keeps ISIC's 3:4), few
    # epochs, from scratch (no weights can be downloaded on the machine this was planned for).
    "isic2017-cpu": Suite(
        name="isic2017-cpu",
        description="every entry on the 2000 ISIC 2017 Part 1 training pairs (a 256x256 copy), 80 % train, "
                    "10 % select, 10 % score, from scratch, 64x64, 8 epochs: a 2-core CPU budget",
        dataset="isic2017", split="holdout:0.8,0.1,0.1",
        budget=Budget(image_size="64", epochs=8, encoder_weights="none", bn_recalibrate=4),
        entries=SEGMENTATION_ENTRIES),
    "ph2-cpu": Suite(
        name="ph2-cpu",
        description="every entry on PH2 (5-fold cross-validation, a tenth of each training part selects), "
                    "from scratch, 64x64, 20 epochs",
        dataset="ph2", split="kfold:5,0.1",
        budget=Budget(image_size="64", epochs=20, encoder_weights="none", bn_recalibrate=4),
        entries=SEGMENTATION_ENTRIES),
    # The papers' own settings (sizes, epochs, ImageNet weights): a GPU suite, for --plan.
    "isic2017-paper": Suite(
        name="isic2017-paper",
        description="every entry at its paper's own image size, epochs and weights on ISIC 2017 Part 1 "
                    "(official split): one GPU per entry",
        dataset="isic2017", split="official",
        budget=Budget(encoder_weights=None), entries=SEGMENTATION_ENTRIES, run_here=False),
    # ISIC 2019 classification on the 8,008 HAM10000 images here: the thesis's standard split, from
    # scratch, 64x96 (the images' 3:4 at a size a 2-core CPU trains in minutes per epoch).
    "isic2019-cpu": Suite(
        name="isic2019-cpu",
        description="the thesis's classifiers and the colour-histogram baseline on ISIC 2019 images (8 classes; "
                    "the thesis's standard split 70/10/20, stratified), from scratch, 64x96, 12 epochs unless said",
        dataset="isic2019", split="holdout:0.7,0.1,0.2", task="classification", checkpoint="balanced_accuracy",
        budget=Budget(image_size="64x96", epochs=12, encoder_weights="none", bn_recalibrate=4),
        entries=CLASSIFICATION_ENTRIES),
    # The synthetic dermoscopy data: the tests' tiny suites (two entries and a baseline).
    "synthetic-tiny": Suite(
        name="synthetic-tiny",
        description="two tiny entries and Otsu on the embedded synthetic data (the tests' suite)",
        dataset="synthetic", split="holdout:0.6,0.2,0.2",
        budget=Budget(image_size="32", epochs=2, batch_size=4, encoder_weights="none"),
        extra_argv=("--synthetic-size", "20"),
        entries=(
            Entry("SLSNet generator alone (tiny)", "slsnet", "SLSNet",
                  ("losses=l1,jaccard", "multiscale_width=4", "widths=4,8,16", "num_fams=1,1", "fam_dilations=1",
                   "decoder_widths=8,4", "decoder_fams=1", "disc_widths=4,8,16")),
            Entry("ASNet U-Net (tiny)", "asnet", "U-Net", ("unet_filters=4,8,16",)),
            Entry("Otsu (blue channel)", baseline="otsu"),
        )),
    "synthetic-classes": Suite(
        name="synthetic-classes",
        description="a tiny residual net and the colour-histogram baseline on the synthetic data's 3 classes "
                    "(the tests' classification suite)",
        dataset="synthetic", split="holdout:0.6,0.2,0.2", task="classification", checkpoint="balanced_accuracy",
        budget=Budget(image_size="32", epochs=2, batch_size=4, encoder_weights="none"),
        extra_argv=("--synthetic-size", "30"),
        entries=(
            Entry("Residual net (tiny)", "isic2019_classifiers", "Residual net",
                  ("n_classes=3", "residual_widths=4,8")),
            Entry("Colour histogram + logistic regression", baseline="colour-histogram"),
        )),
}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise KeyError(f"unknown suite {name!r}; the suites: {', '.join(SUITES)}") from None
