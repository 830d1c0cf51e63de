"""The thesis's classifiers: parameter counts against independent counts, the WRN converter."""
from __future__ import annotations

import numpy as np
import pytest

from reproductions.isic2019_classifiers.models import MODELS, build_classifier, load_torchvision_state_dict


def _trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_alexnet_has_torchvisions_61_1_million_weights():
    assert build_classifier("alexnet", (224, 224, 3), 1000).count_params() == 61_100_840  # torchvision alexnet


def test_wide_resnet_has_torchvisions_68_9_million_weights():
    model = build_classifier("wide_resnet50_2", (224, 224, 3), 1000)
    assert _trainable(model) == 68_883_240            # torchvision wide_resnet50_2 (BN statistics excluded)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_ends_in_a_softmax_over_the_classes(name):
    model = build_classifier(name, (64, 64, 3), 5)
    out = np.asarray(model(np.random.default_rng(0).random((2, 64, 64, 3), np.float32)))
    assert out.shape == (2, 5) and np.allclose(out.sum(-1), 1, atol=1e-5)


def _torchvision_wrn_state(n_classes: int, rng) -> dict:
    """Random arrays with torchvision's wide_resnet50_2 names and shapes, from its definition
    (bottleneck width 2 x planes, expansion 4, layers 3-4-6-3), not from our model."""
    state = {}

    def bn(prefix, c):
        state.update({f"{prefix}.weight": rng.random(c), f"{prefix}.bias": rng.random(c),
                      f"{prefix}.running_mean": rng.random(c), f"{prefix}.running_var": rng.random(c) + 0.5,
                      f"{prefix}.num_batches_tracked": np.array(7)})

    state["conv1.weight"] = rng.random((64, 3, 7, 7))
    bn("bn1", 64)
    inplanes = 64
    for stage, (blocks, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for b in range(blocks):
            p, width = f"layer{stage}.{b}", planes * 2
            state[f"{p}.conv1.weight"] = rng.random((width, inplanes, 1, 1))
            bn(f"{p}.bn1", width)
            state[f"{p}.conv2.weight"] = rng.random((width, width, 3, 3))
            bn(f"{p}.bn2", width)
            state[f"{p}.conv3.weight"] = rng.random((planes * 4, width, 1, 1))
            bn(f"{p}.bn3", planes * 4)
            if b == 0:
                state[f"{p}.downsample.0.weight"] = rng.random((planes * 4, inplanes, 1, 1))
                bn(f"{p}.downsample.1", planes * 4)
            inplanes = planes * 4
    state["fc.weight"], state["fc.bias"] = rng.random((n_classes, 2048)), rng.random(n_classes)
    return {k: np.asarray(v, np.float32) for k, v in state.items()}


@pytest.mark.slow
def test_torchvision_state_dict_round_trip_through_npz(tmp_path):
    rng = np.random.default_rng(0)
    state = _torchvision_wrn_state(1000, rng)
    np.savez(tmp_path / "wrn.npz", **state)
    model = build_classifier("wide_resnet50_2", (64, 64, 3), 1000)
    n = load_torchvision_state_dict(model, tmp_path / "wrn.npz")
    assert n == sum(1 for k in state if not k.endswith("num_batches_tracked"))
    np.testing.assert_array_equal(model.get_layer("layer3_2_conv2").kernel.numpy(),
                                  state["layer3.2.conv2.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(model.get_layer("layer1_0_downsample_1").moving_variance.numpy(),
                                  state["layer1.0.downsample.1.running_var"])
    np.testing.assert_array_equal(model.get_layer("predictions").kernel.numpy(), state["fc.weight"].T)
    eight = build_classifier("wide_resnet50_2", (64, 64, 3), 8)        # another head: left as initialised
    assert load_torchvision_state_dict(eight, state) == n - 2
    state["layer2.0.conv1.weight"] = state["layer2.0.conv1.weight"][:10]
    with pytest.raises(ValueError, match="layer2_0_conv1"):
        load_torchvision_state_dict(model, state)
