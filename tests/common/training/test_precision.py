"""``--precision mixed`` picks float16 only where it helps."""
from __future__ import annotations

import pytest

from common.training.precision import PrecisionError, resolve_precision


def test_mixed_is_float16_on_a_gpu_with_tensor_cores_and_bfloat16_on_a_cpu():
    assert resolve_precision("mixed", "gpu", (7, 5)) == "mixed_float16"      # T4
    assert resolve_precision("mixed", "gpu", None) == "mixed_float16"        # capability unknown
    assert resolve_precision("mixed", "cpu") == "mixed_bfloat16"


def test_mixed_is_refused_on_a_card_without_float16_tensor_cores_unless_forced():
    with pytest.raises(PrecisionError, match="6.1, below 7.0"):
        resolve_precision("mixed", "gpu", (6, 1))                           # GTX 1080 Ti
    assert resolve_precision("mixed_float16", "gpu", (6, 1)) == "mixed_float16"
