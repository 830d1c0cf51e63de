"""Shared parts of the skin-lesion reproduction suite: data, metrics, losses, augmentation,
post-processing, backbones, the training runner and the results tables."""
import os as _os

# TensorFlow's C++ info and warning lines (oneDNN notices, "no CUDA driver") drown the progress
# output of every command; errors still show. Set TF_CPP_MIN_LOG_LEVEL=0 to see them all.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow runs independent ops of a graph concurrently (inter-op parallelism), and the order in
# which they finish changed AER-Net's epoch-1 loss from run to run (0.446303, 0.446302, 0.446603 from
# one command) even with op determinism on. One inter-op thread makes reruns bit-identical; each op
# still uses every core. It cost SLSNet's quick run 36 % and AER-Net's 12 % per epoch on a 2-core CPU.
# Set TF_NUM_INTEROP_THREADS=0 (TensorFlow's own choice) for the speed when exact reruns do not
# matter; run records note the setting.
_os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
