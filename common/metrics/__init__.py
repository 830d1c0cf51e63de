"""Segmentation and classification metrics with the ISIC challenge's scoring semantics.

The numpy functions reproduce the official ISIC scoring (the `isic-challenge-scoring` package):

* 8-bit masks are binarised at ``> 128`` (:func:`binarize_8bit`); probability maps at ``>= 0.5``
  (:func:`binarize`). :func:`to_binary` picks one of the two from the array's dtype and values.
* One confusion matrix (TP, FP, FN, TN) per image; every score is computed per image and then
  averaged over the images (a macro average).
* Undefined ratios score 1.0, as in the challenge: Jaccard and Dice when TP + FP + FN = 0 (both masks
  empty), sensitivity when TP + FN = 0 (no lesion in the truth), specificity when TN + FP = 0
  (the truth is all lesion).
* Thresholded Jaccard (ISIC 2018 Task 1 ranking metric) = Jaccard if Jaccard >= 0.65 else 0.
* ISIC 2018 Task 2 (lesion attributes): per attribute one confusion matrix over all images (each
  image's matrix normalised by its pixel count, as the challenge does, so that large images do not
  dominate), Jaccard and Dice from it, then the mean over the attributes.
* ISIC 2019 classification: predicted class = argmax of the probability columns (a tie between the
  top columns counts as undecided, i.e. wrong, as in the challenge); balanced multi-class accuracy
  = mean over classes of recall, classes without true samples left out.

By concern: :mod:`.segmentation` (confusion matrices, Task 1 and Task 2 scores),
:mod:`.classification` (ISIC 2019), :mod:`.files` (scoring folders of masks and CSVs),
:mod:`.cli` (``python -m common.metrics``), :mod:`.keras_metrics` (:class:`JaccardIndex`,
:class:`DiceCoefficient` for training). Everything is importable from ``common.metrics``; Keras is
loaded only when a Keras metric is asked for, so the command-line scorer starts without a backend.
"""
from common.metrics.classification import (AccuracyCI, accuracy_with_ci, balanced_accuracy,
                                           labels_from_probabilities, per_class_recall, wilson_interval)
from common.metrics.cli import build_parser, main
from common.metrics.files import (MASK_SUFFIXES, image_id, read_class_csv, read_mask, score_attribute_folders,
                                  score_class_csvs, score_mask_folders)
from common.metrics.segmentation import (ATTRIBUTES, ISIC2019_CLASSES, JACCARD_CUTOFF, MASK_THRESHOLD_8BIT,
                                         PROBABILITY_THRESHOLD, SEGMENTATION_KEYS, UNDECIDED, ScoringError,
                                         accuracy, attribute_scores, binarize, binarize_8bit, confusion,
                                         confusion_batch, dice, image_scores, jaccard, scores_from_confusion,
                                         segmentation_scores, sensitivity, specificity, thresholded_jaccard,
                                         to_binary)

_KERAS = ("JaccardIndex", "DiceCoefficient")


def __getattr__(name):
    if name in _KERAS:                     # imports Keras (and its backend): only when asked for
        from common.metrics import keras_metrics

        return getattr(keras_metrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ATTRIBUTES", "AccuracyCI", "DiceCoefficient", "ISIC2019_CLASSES", "JACCARD_CUTOFF", "JaccardIndex",
           "MASK_SUFFIXES", "MASK_THRESHOLD_8BIT", "PROBABILITY_THRESHOLD", "SEGMENTATION_KEYS", "ScoringError",
           "UNDECIDED", "accuracy", "accuracy_with_ci", "attribute_scores", "balanced_accuracy", "binarize",
           "binarize_8bit", "build_parser", "confusion", "confusion_batch", "dice", "image_id", "image_scores",
           "jaccard", "labels_from_probabilities", "main", "per_class_recall", "read_class_csv", "read_mask",
           "score_attribute_folders", "score_class_csvs", "score_mask_folders", "scores_from_confusion",
           "segmentation_scores", "sensitivity", "specificity", "thresholded_jaccard", "to_binary",
           "wilson_interval"]
