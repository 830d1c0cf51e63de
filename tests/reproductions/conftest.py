"""One tiny training run per registered paper, shared by every test of the session that needs one.

``TINY[name]`` is the paper's command line for that run: the row's architecture with a few filters,
small synthetic images, a few epochs, declared by the paper itself (``Paper.tiny``). A new paper
declares it; the runner behaviours of ``test_runner.py`` then run on it without a line of test code.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reproductions import registry


def _tiny(name: str) -> dict:
    """The paper's tiny run as the fixture takes it, from its declaration (``Paper.tiny``)."""
    paper = registry.load(name)
    t = dict(paper.tiny)
    spec = {"argv": paper.tiny_argv(), "epochs": t["epochs"], "split": t["split"], "n_images": t["n_images"]}
    for key in ("parts", "first_argv", "one_argv", "one_index"):
        if key in t:
            spec[key] = tuple(t[key]) if key == "parts" else (list(t[key]) if key != "one_index" else t[key])
    return spec


#: Per paper: the arguments of its tiny run, its epochs, the split it scores, and what the first
#: command adds (``first_argv``) against what a command making one run adds (``one_argv``, the run
#: being ``runs[one_index]`` of the first: ASNet trains ``--fold all``, then one fold alone).
#: Declared by each paper (``Paper.tiny``); a paper without one fails ``test_registry``.
TINY = {name: _tiny(name) for name in registry.PAPERS if registry.load(name).tiny}


@dataclass
class TinyRuns:
    """The runs of one paper's tiny command: ``root`` (the runs root) and ``runs`` (their folders)."""

    name: str
    root: Path
    runs: list[Path]
    argv: list[str]
    epochs: int
    split: str
    n_images: int
    parts: tuple[str, ...] = ()
    first_argv: list[str] = field(default_factory=list)
    one_argv: list[str] = field(default_factory=list)
    one_index: int = 0

    @property
    def split_parts(self) -> set[str]:
        """The parts of the run's split (train and the scored part, unless ``parts`` says more)."""
        return set(self.parts) or {"train", self.split}

    @property
    def run(self) -> Path:
        """The run that :meth:`train_argv` (one run) makes again."""
        return self.runs[self.one_index]

    def train_argv(self, epochs: int | None = None) -> list[str]:
        """The command line making :attr:`run` alone (``epochs`` to change its length)."""
        return [*self.argv, "--epochs", str(epochs or self.epochs), *self.one_argv]

    def command(self, command: str):
        return importlib.import_module(f"reproductions.{self.name}.{command}").main


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """``tiny_runs(name)``: the paper's tiny run, trained the first time a test asks for it."""
    done: dict[str, TinyRuns] = {}

    def get(name: str) -> TinyRuns:
        if name not in done:
            spec = dict(TINY[name])
            root = tmp_path_factory.mktemp(f"runs-{name}")
            train = importlib.import_module(f"reproductions.{name}.train").main
            argv = [*spec["argv"], "--epochs", str(spec["epochs"]), *spec.get("first_argv", [])]
            runs = [Path(p) for p in train([*argv, "--runs-root", str(root)])]
            done[name] = TinyRuns(name=name, root=root, runs=runs, **spec)
        return done[name]

    return get


@pytest.fixture
def relabel():
    """``relabel(run, target, dataset=..., row=..., row_config=...)``: see :func:`relabel_run`."""
    return relabel_run


def relabel_run(run: Path, target: Path, *, dataset: str, row: str | None = None, row_config=None,
            metrics_update: dict | None = None) -> Path:
    """Copy a run's record files to ``target`` as if it had run on ``dataset`` (as ``row``); with
    ``row_config``, its config.json holds that row's settings (the cell fields as the run had them),
    as a run of the row itself would."""
    import dataclasses
    import json
    import shutil

    from common.results import CELL_FIELDS

    target.mkdir(parents=True)
    for name in ("config.json", "split.json", "history.csv", "metrics.json"):
        shutil.copyfile(run / name, target / name)
    cfg = json.loads((target / "config.json").read_text())
    metrics = json.loads((target / "metrics.json").read_text())
    cfg["dataset"] = metrics["dataset"] = dataset
    if row:
        cfg["row"] = metrics["row"] = row
    if row_config is not None:
        ran = cfg["config"]
        cfg["config"] = {**json.loads(json.dumps(dataclasses.asdict(row_config))),
                         **{k: ran[k] for k in CELL_FIELDS if k in ran}}
        cfg["unused_fields"] = []
    metrics.update(metrics_update or {})
    (target / "config.json").write_text(json.dumps(cfg))
    (target / "metrics.json").write_text(json.dumps(metrics))
    return target


class _DyingStep:
    """A run's step, raising KeyboardInterrupt (as Ctrl-C does) at a given call."""

    def __init__(self, step, at):
        self._step, self._at, self._calls = step, at, 0

    def __call__(self, x, y):
        self._calls += 1
        if self._calls == self._at:
            raise KeyboardInterrupt("simulated Ctrl-C")
        return self._step(x, y)

    def __getattr__(self, attr):
        return getattr(self._step, attr)


@pytest.fixture
def ctrl_c_in_epoch_2(monkeypatch):
    """``ctrl_c_in_epoch_2(nth=1)``: the nth training run started from now on is interrupted one step
    into its second epoch (as Ctrl-C would); ``.restore()`` puts the real epoch loop back."""
    from common.training import loop

    real_loop = loop.train_loop

    class Interrupt:
        def __init__(self, nth):
            self.nth, self.loops = nth, 0

        def loop(self, *args, step, train_batches, **kwargs):
            self.loops += 1
            if self.loops == self.nth:
                step = _DyingStep(step, len(train_batches) + 1)
            return real_loop(*args, step=step, train_batches=train_batches, **kwargs)

        def restore(self):
            monkeypatch.setattr(loop, "train_loop", real_loop)

    def start(nth: int = 1) -> Interrupt:
        interrupt = Interrupt(nth)
        monkeypatch.setattr(loop, "train_loop", interrupt.loop)
        return interrupt

    return start
