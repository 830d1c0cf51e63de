"""The synthetic data's ISIC 2018 Task 2 attributes: structures inside the lesion, ISIC-like prevalences,
and lesion-task images left as they were."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from common.data import ATTRIBUTES
from common.data import synthetic


def test_prevalences_follow_isic_2018():
    n = 300
    seen = np.zeros(len(ATTRIBUTES))
    for i in range(n):
        _, attr, _ = synthetic.generate_sample(i, (64, 96), attributes=True)
        seen += attr.reshape(-1, len(ATTRIBUTES)).any(axis=0)
    share = dict(zip(ATTRIBUTES, seen / n))
    for name, expected in synthetic.ATTRIBUTE_PREVALENCE.items():
        assert abs(share[name] - expected) < 0.07, (name, share[name], expected)
    assert share["pigment_network"] > share["globules"] > share["streaks"]     # common to rare, as ISIC 2018


def test_attributes_lie_in_the_lesion_and_change_nothing_outside_it():
    for i in range(40):
        image, lesion, _ = synthetic.generate_sample(i, (96, 128))
        with_attr, attr, _ = synthetic.generate_sample(i, (96, 128), attributes=True)
        near = ndimage.binary_dilation(lesion[..., 0] > 0, iterations=4)
        assert not (attr.any(axis=-1) & ~near).any(), i
        outside = ~ndimage.binary_dilation(near, iterations=2)
        np.testing.assert_array_equal(image[outside], with_attr[outside])


def test_each_attribute_draw_is_a_pure_function_of_seed_and_index():
    a = synthetic.generate_sample(7, (64, 64), seed=3, attributes=True)
    b = synthetic.generate_sample(7, (64, 64), seed=3, attributes=True)
    np.testing.assert_array_equal(a[1], b[1])
    assert synthetic.attribute_params(7, 3)["streaks"] == synthetic.attribute_params(7, 3)["streaks"]
