"""The alternating pix2pix step (eqs. 7, 11) on the TensorFlow and JAX backends."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

SCRIPT = r"""
import sys
from dataclasses import replace
import numpy as np, keras
from reproductions.slsnet.configs import ROWS
from reproductions.slsnet.paper import build_training

backend = sys.argv[1]
assert keras.backend.backend() == backend, keras.backend.backend()
keras.utils.set_random_seed(0)
cfg = replace(ROWS["SLSNet"], image_size=32, multiscale_width=4, widths=(4, 8, 16), num_fams=(1, 1),
              fam_dilations=(1,), decoder_widths=(8, 4), decoder_fams=1, disc_widths=(4, 8, 16),
              dropout=0.0, learning_rate=2e-3)
parts = build_training(cfg)
rng = np.random.default_rng(0)
x = rng.random((4, 32, 32, 3)).astype("float32")
y = (x.mean(-1, keepdims=True) > 0.5).astype("float32")
before = [np.array(v) for v in parts.models["discriminator"].trainable_weights]
logs = [{k: float(np.asarray(v)) for k, v in parts.step(x, y).items()} for _ in range(12)]
parts.step.sync()
after = [np.array(v) for v in parts.models["discriminator"].trainable_weights]
assert all(np.isfinite(v) for l in logs for v in l.values()), logs
assert set(logs[0]) == {"d_loss", "g_adv", "g_l1", "g_jaccard", "g_loss"}, logs[0]
assert logs[-1]["g_l1"] < logs[0]["g_l1"], [l["g_l1"] for l in logs]
assert any(not np.allclose(a, b) for a, b in zip(before, after)), "D was not updated"
# the gradient balance (history's grad_* columns) changes no state: weights, BatchNorm statistics,
# dropout seeds and optimizer slots are the same after it
state = [np.array(v) for m in parts.models.values() for v in m.variables]
state += [np.array(v) for o in parts.optimizers.values() for v in o.variables]
balance = parts.step.diagnostics([(x, y), (x[::-1], y[::-1])])
assert {"grad_adv", "grad_l1", "grad_jaccard", "grad_sup", "grad_adv_over_sup", "grad_cos_adv_sup"} <= set(balance), balance
assert -1.0 <= balance["grad_cos_adv_sup"] <= 1.0 and balance["grad_adv"] > 0 and balance["grad_sup"] > 0, balance
assert abs(balance["grad_adv_over_sup"] - balance["grad_adv"] / balance["grad_sup"]) < 1e-3 * balance["grad_adv_over_sup"]
after_state = [np.array(v) for m in parts.models.values() for v in m.variables]
after_state += [np.array(v) for o in parts.optimizers.values() for v in o.variables]
assert len(state) == len(after_state) and all(np.array_equal(a, b) for a, b in zip(state, after_state)), \
    "diagnostics changed the training state"
# the weighted L1 gradient doubles with lambda (the weights are those of eq. 7)
double = build_training(replace(cfg, l1_weight=2 * cfg.l1_weight))
for src, dst in zip(parts.models["generator"].variables, double.models["generator"].variables):
    dst.assign(np.array(src))
for src, dst in zip(parts.models["discriminator"].variables, double.models["discriminator"].variables):
    dst.assign(np.array(src))
doubled = double.step.diagnostics([(x, y), (x[::-1], y[::-1])])
assert abs(doubled["grad_l1"] / balance["grad_l1"] - 2.0) < 1e-3, (doubled["grad_l1"], balance["grad_l1"])
assert abs(doubled["grad_adv"] - balance["grad_adv"]) < 1e-4 * balance["grad_adv"], (doubled, balance)
pred = np.asarray(parts.network.predict_on_batch(x))
assert pred.shape == (4, 32, 32, 1) and 0 <= pred.min() and pred.max() <= 1
# the generator alone (no adversarial term): D takes no part and is not updated
parts = build_training(replace(cfg, losses=("l1", "jaccard")))
before = [np.array(v) for v in parts.models["discriminator"].trainable_weights]
alone = [{k: float(np.asarray(v)) for k, v in parts.step(x, y).items()} for _ in range(6)]
parts.step.sync()
after = [np.array(v) for v in parts.models["discriminator"].trainable_weights]
assert set(alone[0]) == {"g_l1", "g_jaccard", "g_loss"}, alone[0]
assert alone[-1]["g_loss"] < alone[0]["g_loss"], [l["g_loss"] for l in alone]
assert all(np.array_equal(a, b) for a, b in zip(before, after)), "D changed without the adversarial term"
# one supervised term per reading is no balance; two are (no adversarial columns without D)
assert set(parts.step.diagnostics([(x, y)])) == {"grad_l1", "grad_jaccard", "grad_sup"}
parts = build_training(replace(cfg, losses=("adversarial", "bce")))
bce_logs = parts.step(x, y)
assert set(bce_logs) == {"d_loss", "g_adv", "g_bce", "g_loss"}, bce_logs
print("ok", logs[0]["g_l1"], logs[-1]["g_l1"])
"""


def _run(backend: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", SCRIPT, backend], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1200)


def test_pix2pix_step_on_tensorflow():
    out = _run("tensorflow")
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


@pytest.mark.slow  # JAX compiles G and D step by step on first use: minutes on 2 CPU cores
def test_pix2pix_step_on_jax():
    pytest.importorskip("jax")
    out = _run("jax")
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


def test_losses_without_adversarial_leave_the_adversarial_term_out_of_the_generator_loss():
    """``losses=("l1", "jaccard")`` trains G on L1 + Jaccard only (the term used to be added anyway)."""
    from dataclasses import replace

    import numpy as np

    from common import losses as L
    from reproductions.slsnet.configs import ROWS
    from reproductions.slsnet.gan import _generator_loss

    cfg = ROWS["SLSNet"]
    rng = np.random.default_rng(0)
    y = (rng.random((2, 8, 8, 1)) > 0.5).astype("float32")
    fake = rng.random((2, 8, 8, 1)).astype("float32")
    d_fake = rng.random((2, 1, 1, 1)).astype("float32") * 0.9 + 0.05
    both = replace(cfg, losses=("adversarial", "l1", "jaccard"))
    alone = replace(cfg, losses=("l1", "jaccard"))
    total_both, logs = _generator_loss(both, y, fake, d_fake)
    total_alone, logs_alone = _generator_loss(alone, y, fake)          # D's output is not needed
    assert "g_adv" not in logs_alone
    l1, jac = float(L.l1_loss(y, fake)), float(L.soft_jaccard_loss(y, fake))
    assert float(total_alone) == pytest.approx(cfg.l1_weight * l1 + cfg.jaccard_weight * jac, rel=1e-5)
    assert float(total_both) == pytest.approx(float(total_alone) + cfg.adversarial_weight * float(logs["g_adv"]),
                                              rel=1e-5)



def test_loss_readings_l1_sum_and_batch_jaccard():
    """The readings of eq. 7 the paper leaves open: L1 summed over each image's pixels is H*W times
    the mean; the Jaccard term over the whole batch is one ratio of batch sums."""
    import numpy as np

    from common import losses as L

    rng = np.random.default_rng(1)
    y = (rng.random((3, 8, 16, 1)) > 0.5).astype("float32")
    p = rng.random((3, 8, 16, 1)).astype("float32")
    assert float(L.l1_loss(y, p, reduction="sum")) == pytest.approx(128 * float(L.l1_loss(y, p)), rel=1e-5)
    inter, denom = (y * p).sum(), (y ** 2).sum() + (p ** 2).sum() - (y * p).sum()
    assert float(L.soft_jaccard_loss(y, p, reduction="batch")) == pytest.approx(1 - (inter + 1) / (denom + 1),
                                                                                 rel=1e-5)
    per_image = [1 - ((y[i] * p[i]).sum() + 1) / ((y[i] ** 2).sum() + (p[i] ** 2).sum() - (y[i] * p[i]).sum() + 1)
                 for i in range(3)]
    assert float(L.soft_jaccard_loss(y, p)) == pytest.approx(np.mean(per_image), rel=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        L.l1_loss(y, p, reduction="max")


def test_config_refuses_readings_and_weights_out_of_range():
    from dataclasses import replace

    from reproductions.slsnet.configs import BASE

    for bad in (dict(l1_reduction="median"), dict(jaccard_reduction="pixel"), dict(l1_weight=-1.0),
                dict(learning_rate=-5.0), dict(bce_weight=float("inf")), dict(losses=("l2",))):
        with pytest.raises(ValueError, match="invalid SLSNetConfig"):
            replace(BASE, **bad)
