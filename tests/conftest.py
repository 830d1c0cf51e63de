"""Shared fixtures: the real-data folder beside the checkout, tiny settings for fast tests."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")  # as common/__init__.py: bit-identical reruns

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real dermoscopy sample folder (`../shared/data`); skips when a clone has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data folder {SHARED_DATA} is absent (only development checkouts have it)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the decoded-array cache of every test inside a temporary folder."""
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "array-cache"))
