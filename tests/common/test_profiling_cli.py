"""The generic profile command (common.profiling_cli) on tiny Keras models with hand-counted numbers."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

import keras
import pytest

from common.config import ConfigError
from common.profiling_cli import format_results, profile_main, profile_row, with_image_size


@dataclass(frozen=True)
class TinyConfig:
    width: int = 4
    image_size: tuple[int, int] = (8, 8)
    channels: int = 3
    broken: bool = False


@dataclass(frozen=True)
class SquareConfig:
    image_size: int = 8


ROWS = {
    "Tiny": TinyConfig(),
    "Tiny wide": TinyConfig(width=8),
    "Tiny grey": TinyConfig(channels=1),
    "Broken": TinyConfig(broken=True),
}


def build(cfg):
    """conv 3x3 'same' (C -> width, with bias) then conv 1x1 (width -> 1, with bias)."""
    if cfg.broken:
        raise RuntimeError("this row needs a package that is not installed\nsecond line")
    inputs = keras.Input((*cfg.image_size, cfg.channels))
    x = keras.layers.Conv2D(cfg.width, 3, padding="same")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(1, 1)(x))


def shape(cfg):
    return (*cfg.image_size, cfg.channels)


def expected(cfg):
    h, w = cfg.image_size
    params = 9 * cfg.channels * cfg.width + cfg.width + cfg.width + 1
    macs = h * w * 9 * cfg.channels * cfg.width + h * w * cfg.width
    return params, macs


def run(argv, capsys, **kwargs):
    code = profile_main("tiny", ROWS, build, shape, argv=argv, **kwargs)
    return code, capsys.readouterr()


def test_json_numbers_are_measured_from_the_built_model(capsys):
    code, out = run(["--row", "Tiny", "--row", "tiny wide", "--no-latency", "--json"], capsys)
    assert code == 0
    rows = json.loads(out.out)
    assert [r["row"] for r in rows] == ["Tiny", "Tiny wide"]  # names resolved case-insensitively
    for r in rows:
        assert {"row", "image_size", "params", "macs", "latency_ms"} <= set(r)
        cfg = ROWS[r["row"]]
        assert (r["params"], r["macs"]) == expected(cfg)
        assert r["image_size"] == [8, 8] and r["input_shape"] == [8, 8, 3]
        assert r["latency_ms"] is None and r["fps"] is None and "error" not in r


def test_image_size_and_latency(capsys):
    code, out = run(["--row", "Tiny grey", "--image-size", "16x12", "--runs", "2", "--warmup", "0",
                     "--json"], capsys)
    assert code == 0
    (r,) = json.loads(out.out)
    assert r["image_size"] == [16, 12] and r["input_shape"] == [16, 12, 1]
    assert (r["params"], r["macs"]) == expected(TinyConfig(channels=1, image_size=(16, 12)))
    assert r["latency_ms"] > 0 and r["fps"] == pytest.approx(1000.0 / r["latency_ms"])


def test_a_row_that_fails_to_build_is_reported_not_raised(capsys):
    code, out = run(["--all", "--no-latency", "--json"], capsys)
    assert code == 1  # something could not be profiled
    rows = {r["row"]: r for r in json.loads(out.out)}
    assert list(rows) == list(ROWS)
    broken = rows["Broken"]
    assert broken["error"] == "RuntimeError: this row needs a package that is not installed"
    assert broken["params"] is None and broken["macs"] is None
    assert all("error" not in r and r["params"] for name, r in rows.items() if name != "Broken")
    assert "could not profile: Broken" in out.err


def test_readable_table_and_default_rows(capsys):
    code, out = run(["--no-latency"], capsys, default_rows=["Tiny", "Broken"],
                    paper_numbers={"Tiny": {"params_m": 0.0001}})
    assert code == 1
    text = out.out
    assert "params (M)" in text and "MACs (G)" in text and "latency (ms)" in text
    assert "Tiny wide" not in text  # only the default rows
    assert "not profiled: RuntimeError" in text
    assert "params_m 0.0001" in text  # the paper's figure, in its own column


def test_paper_numbers_callable(capsys):
    code, out = run(["--row", "Tiny", "--no-latency", "--json"], capsys,
                    paper_numbers=lambda row, cfg: {"macs_g": cfg.width / 1000})
    assert code == 0 and json.loads(out.out)[0]["paper"] == {"macs_g": 0.004}


def test_size_the_model_cannot_take_is_an_error_row():
    def strict(cfg):
        if cfg.image_size[0] % 4:
            raise ValueError(f"input size {cfg.image_size} must be a multiple of 4")
        return build(cfg)

    r = profile_row("Tiny", ROWS["Tiny"], strict, shape, image_size=(10, 10), measure_latency=False)
    assert r["error"].startswith("ValueError: input size (10, 10)") and r["image_size"] == [10, 10]
    assert "not profiled" in format_results([r])


def test_with_image_size():
    assert with_image_size(TinyConfig(), (16, 32)).image_size == (16, 32)
    assert with_image_size(SquareConfig(), (16, 16)).image_size == 16
    assert with_image_size(TinyConfig(), None) == TinyConfig()
    with pytest.raises(ConfigError, match="square"):
        with_image_size(SquareConfig(), (16, 32))

    @dataclass(frozen=True)
    class NoSize:
        width: int = 1

    with pytest.raises(ConfigError, match="no image_size"):
        with_image_size(NoSize(), (8, 8))


@pytest.mark.parametrize("argv, message", [
    (["--row", "Nope"], "unknown row"),
    (["--row", "Tiny", "--all"], "not both"),
    (["--runs", "0"], "--runs"),
    (["--warmup", "-1"], "--warmup"),
    (["--image-size", "big"], "not N or HxW"),
])
def test_bad_arguments_exit_with_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        profile_main("tiny", ROWS, build, shape, argv=argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: python -m reproductions.tiny.profile" in err and message in err


def test_help_explains(capsys):
    with pytest.raises(SystemExit) as exc:
        profile_main("tiny", ROWS, build, shape, argv=["--help"], default_rows=["Tiny"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for needle in ("--json", "--image-size", "--no-latency", "MACs", "median", "Tiny wide", "Default: Tiny"):
        assert needle in text, needle


def test_model_inputs_are_used_without_an_input_shape_function(capsys):
    code = profile_main("tiny", {"Tiny": replace(TinyConfig(), image_size=(4, 4))}, build, None,
                        argv=["--no-latency", "--json"])
    (r,) = json.loads(capsys.readouterr().out)
    assert code == 0 and r["image_size"] == [4, 4]
    assert r["macs"] == expected(TinyConfig(image_size=(4, 4)))[1]
