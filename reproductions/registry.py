"""The paper registry: every paper package's one declaration (``reproductions.<name>.paper.PAPER``).

``python -m reproductions`` lists them with their rows and the runs found for each; the runner's
tests are parametrised over ``PAPERS``. A new paper package adds its name here.
"""
from __future__ import annotations

import importlib

#: Paper packages, in the order the suite presents them.
PAPERS = ("slsnet", "aernet", "asnet", "transfer_ensemble", "isic2019_classifiers")


def load(name: str):
    """The :class:`~common.training.paper.Paper` declared by ``reproductions.<name>.paper``."""
    if name not in PAPERS:
        raise KeyError(f"unknown paper {name!r}; the registry lists {', '.join(PAPERS)}")
    return importlib.import_module(f"reproductions.{name}.paper").PAPER


def all_papers() -> list:
    return [load(name) for name in PAPERS]
