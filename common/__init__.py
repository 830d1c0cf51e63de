"""Shared parts of the skin-lesion reproduction suite: data, metrics, losses, augmentation,
post-processing, backbones, the training runner and the results tables."""
import os as _os

# TensorFlow's C++ info and warning lines (oneDNN notices, "no CUDA driver") drown the progress
# output of every command; errors still show. Set TF_CPP_MIN_LOG_LEVEL=0 to see them all.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
