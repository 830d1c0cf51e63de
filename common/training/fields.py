"""Which fields of a row's config a run read: no setting is recorded that did not take effect.

The runner hands the paper a *tracked* copy of the resolved config while it sets a run up (data,
task, augmentation, model, optimizer, step, post-processing). Each field the paper or the runner
reads is noted. Then:

- a field given with ``--set`` that the run did not read is refused before training starts (the row
  does not use it: ``--set psi_activation=relu`` on a row without attention gates, say);
- ``config.json`` lists the fields the row left unread (``unused_fields``), so the record says which
  of its settings took effect, and the results tables ignore those when they compare a run with a
  paper row.

Reads made by the ``dataclasses`` machinery itself (``asdict``, ``replace``, ``==``, ``repr``) are not
uses and are not counted.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, Iterable

_TRACKED: dict[type, type] = {}
#: the dataclass machinery, which reads every field without using any (record writers say so
#: themselves: they read through :func:`field_values`)
_NOT_USES = ("dataclasses.py", "<string>", "copy.py")


def tracked(cfg: Any) -> Any:
    """A copy of the frozen dataclass ``cfg`` that notes which of its fields are read (:func:`reads`)."""
    cls = type(cfg)
    if cls in _TRACKED.values():
        cls = cls.__mro__[1]
    sub = _TRACKED.get(cls)
    if sub is None:
        names = frozenset(f.name for f in dataclasses.fields(cls))

        def __getattribute__(self, name):
            if name in names:
                log = object.__getattribute__(self, "__dict__").get("_field_reads")
                if log is not None and not sys._getframe(1).f_code.co_filename.endswith(_NOT_USES):
                    log.add(name)
            return object.__getattribute__(self, name)

        def __eq__(self, other):
            if dataclasses.is_dataclass(other) and not isinstance(other, type):
                return dataclasses.astuple(self) == dataclasses.astuple(other) and \
                    _base(type(self)) is _base(type(other))
            return NotImplemented

        def __init__(self, *args, **kwargs):
            # copies made by dataclasses.replace (a paper changing one field) note into the same log
            cls.__init__(self, *args, **kwargs)
            object.__setattr__(self, "_field_reads", type(self)._current_log)

        sub = type(cls.__name__, (cls,), {"__getattribute__": __getattribute__, "__eq__": __eq__,
                                          "__init__": __init__, "__hash__": cls.__hash__,
                                          "__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                          "_current_log": None})
        _TRACKED[cls] = sub
    sub._current_log = set()
    return sub(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})


def field_values(cfg: Any) -> dict[str, Any]:
    """Every field of the dataclass ``cfg`` by name, read without noting a use: for the code that
    records a config (``config.json``) rather than acts on it."""
    return {f.name: object.__getattribute__(cfg, f.name) for f in dataclasses.fields(cfg)}


def _base(cls: type) -> type:
    return cls.__mro__[1] if cls in _TRACKED.values() else cls


def untracked(cfg: Any) -> Any:
    """The plain config of a tracked copy (the same object when it is not tracked)."""
    cls = type(cfg)
    if cls not in _TRACKED.values():
        return cfg
    return cls.__mro__[1](**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})


def reads(cfg: Any) -> set[str]:
    """The fields of a :func:`tracked` config read so far."""
    return set(object.__getattribute__(cfg, "__dict__").get("_field_reads", ()))


def unused(cfg: Any) -> list[str]:
    """The fields of a :func:`tracked` config not read so far, in declaration order."""
    seen = reads(cfg)
    return [f.name for f in dataclasses.fields(cfg) if f.name not in seen]


def check_overrides_used(cfg: Any, given: Iterable[str], row: str) -> None:
    """Refuse ``--set`` fields the run did not read: they would change nothing but the record."""
    from common.config import ConfigError

    idle = [name for name in dict.fromkeys(given) if name not in reads(cfg)]
    if idle:
        raise ConfigError(
            f"--set {', '.join(idle)}: row {row!r} does not use {'this field' if len(idle) == 1 else 'these fields'} "
            f"(with its other settings nothing reads {'it' if len(idle) == 1 else 'them'}), so the run "
            f"would not change; leave {'it' if len(idle) == 1 else 'them'} out, or pick a row that uses "
            f"{'it' if len(idle) == 1 else 'them'}. Fields this row reads: {', '.join(sorted(reads(cfg)))}")
