"""Tasks: what differs between lesion masks, attribute masks and class labels (see :mod:`.base`)."""
from common.training.tasks.base import Monitor, PostProcess, Scored, Task, checkpoint_file, history_column
from common.training.tasks.classification import ISIC2019_COLUMNS, THREE_CHECKPOINTS, ClassificationTask
from common.training.tasks.predict import IDENTITY, TTA_SETS, Member, Predictor, View, tta_views
from common.training.tasks.segmentation import (AttributeTask, SegmentationTask, combine_attributes,
                                                resize_probability)

__all__ = ["AttributeTask", "ClassificationTask", "IDENTITY", "ISIC2019_COLUMNS", "Member", "Monitor",
           "PostProcess", "Predictor", "Scored", "SegmentationTask", "TTA_SETS", "THREE_CHECKPOINTS", "Task",
           "View", "checkpoint_file", "combine_attributes", "history_column", "resize_probability", "tta_views"]
