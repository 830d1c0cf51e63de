"""Seeded synthetic dermoscopy images: the embedded default dataset ``"synthetic"``.

Each sample is a pure function of ``(seed, index)``: its parameters are drawn from
``numpy.random.default_rng([seed, index])`` in normalised coordinates, so any subset can be made
again, at any image size, in any order. A picture holds a skin-coloured textured background, an
irregular lesion (a radial Fourier-perturbed boundary with a fuzzy border, colour variation and a
pigment-network texture), curved dark hairs over it, small pigmented spots outside the lesion mask,
an illumination gradient and the dark circular vignette of a dermatoscope.

The class label sets the lesion's appearance, so a classifier can learn it: a higher class is
larger, darker, more irregular, more variegated, and (for the top classes) shows a blue-grey veil.
"""
from __future__ import annotations

import numpy as np

#: Class names of the synthetic dataset for ``n_classes=3``.
CLASS_NAMES_3 = ["regular", "atypical", "melanoma-like"]
_HARMONICS = np.arange(2, 8)
_LIGHT = np.array([0.66, 0.45, 0.32], np.float32)                   # light brown
_DARK = np.array([0.28, 0.16, 0.11], np.float32)                    # dark brown
_VEIL = np.array([0.42, 0.47, 0.58], np.float32)                    # blue-grey veil
_HAIR = np.array([0.10, 0.07, 0.05], np.float32)
_NETWORK_VISIBLE = 0.1                                                 # net_strength with a visible network

#: What each synthetic attribute mask marks. With ``attributes=True`` the lesion gains structures
#: that look like the ISIC 2018 Task 2 attributes, each drawn with a probability near its share of
#: the 2594 ISIC 2018 images (``ATTRIBUTE_PREVALENCE``), from a random stream of its own, so the
#: images of the lesion task (``attributes=False``) are unchanged.
ATTRIBUTE_SOURCES = {
    "globules": "dark round dots of a few pixels, clustered inside the lesion (mask: around each dot)",
    "milia_like_cyst": "small bright whitish round cysts inside the lesion (mask: around each cyst)",
    "negative_network": "a network of light lines around darker holes inside the lesion (mask: its area)",
    "pigment_network": "the reticular network pattern inside the lesion, where it is visible (mask: its area)",
    "streaks": "dark radial lines at the lesion's border (mask: a band around each)",
}
#: share of images drawn with each attribute (ISIC 2018 Task 2: pigment network in most images, streaks
#: in few: 1522, 602, 682, 189 and 100 of 2594 images)
ATTRIBUTE_PREVALENCE = {"globules": 0.23, "milia_like_cyst": 0.26, "negative_network": 0.07,
                        "pigment_network": 0.59, "streaks": 0.04}
_MILIA = np.array([0.93, 0.90, 0.82], np.float32)
ATTRIBUTES_VERSION = 3  # 3: structures like the ISIC attributes, masks of the regions they cover (1: stand-ins)


def class_names(n_classes: int = 3) -> list[str]:
    """Names of the synthetic classes (``CLASS_NAMES_3`` for 3, ``class_0``… otherwise)."""
    return list(CLASS_NAMES_3) if n_classes == 3 else [f"class_{k}" for k in range(n_classes)]


def sample_params(index: int, seed: int = 0, n_classes: int = 3) -> dict:
    """The random parameters of sample ``index`` (label first), without rendering it.

    Args:
        index: sample number (>= 0).
        seed: dataset seed (>= 0).
        n_classes: number of classes (>= 1).
    """
    rng = np.random.default_rng([int(seed), int(index)])
    label = int(rng.integers(n_classes))
    t = label / (n_classes - 1) if n_classes > 1 else 0.0       # severity in [0, 1]
    k = _HARMONICS
    p = {
        "label": label,
        "centre": rng.normal(0.0, 0.05, 2),
        "radius": rng.uniform(0.15, 0.22) + 0.07 * t,
        "amps": rng.normal(0.0, 1.0, k.size) * (0.02 + 0.07 * t) / k ** 0.6,
        "phases": rng.uniform(0, 2 * np.pi, k.size),
        "softness": rng.uniform(0.03, 0.10),
        "skin": np.array([0.88, 0.70, 0.60]) * rng.uniform(0.85, 1.05) + rng.normal(0, 0.02, 3),
        "darkness": np.clip(0.35 + 0.4 * t + rng.normal(0, 0.06), 0.15, 0.95),
        "variegation": 0.15 + 0.45 * t + rng.uniform(0, 0.1),
        "veil": bool(t > 0.5 and rng.random() < 0.8),
        "net_freq": rng.uniform(18, 30),
        "net_strength": rng.uniform(0.05, 0.2) * (1 - 0.5 * t),
        "skin_noise": rng.normal(0, 1, (12, 12)),
        "blotch_noise": rng.normal(0, 1, (7, 7)),
        "veil_noise": rng.normal(0, 1, (5, 5)),
        "n_hairs": int(rng.poisson(2.5)),
        "hairs": rng.uniform(0, 1, (8, 7)),
        "spots": rng.uniform(0, 1, (int(rng.integers(0, 7)), 3)),
        "vignette": rng.uniform(0.46, 0.62) if rng.random() < 0.7 else None,
        "light_angle": rng.uniform(0, 2 * np.pi),
        "light_strength": rng.uniform(0.0, 0.25),
        "noise_seed": int(rng.integers(2 ** 31)),
    }
    return p


def sample_label(index: int, seed: int = 0, n_classes: int = 3) -> int:
    """The class of sample ``index`` (cheap: no rendering)."""
    return int(np.random.default_rng([int(seed), int(index)]).integers(n_classes))


def _upsample(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    """Separable bilinear interpolation of a small grid to [h, w]."""
    gh, gw = grid.shape
    ry, rx = np.linspace(0, gh - 1, h), np.linspace(0, gw - 1, w)
    y0, x0 = np.minimum(ry.astype(int), gh - 2), np.minimum(rx.astype(int), gw - 2)
    fy, fx = (ry - y0)[:, None], (rx - x0)[None, :]
    fy, fx = fy.astype(np.float32), fx.astype(np.float32)
    rows = grid[y0] * (1 - fy) + grid[y0 + 1] * fy                     # [h, gw]
    return rows[:, x0] * (1 - fx) + rows[:, x0 + 1] * fx


def _hair_map(p: dict, h: int, w: int, s: float) -> np.ndarray:
    """Coverage [h, w] in [0, 1] of curved hairs (quadratic Bézier strokes)."""
    cover = np.zeros((h, w), np.float32)
    if p["n_hairs"] == 0:
        return cover
    for hair in p["hairs"][: min(p["n_hairs"], len(p["hairs"]))]:
        p0 = np.array([hair[0] * w, hair[1] * h])
        p2 = p0 + (np.array([hair[2], hair[3]]) - 0.5) * 1.4 * s
        p1 = (p0 + p2) / 2 + (hair[4] - 0.5) * 0.5 * s
        width = max(1.0, (0.003 + 0.006 * hair[5]) * s)
        n = int(np.ceil(2 * np.linalg.norm(p2 - p0) + 2))
        t = np.linspace(0, 1, n)[:, None]
        pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
        tangent = 2 * (1 - t) * (p1 - p0) + 2 * t * (p2 - p1)
        normal = tangent[:, ::-1] * np.array([-1, 1]) / (np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9)
        offsets = np.linspace(-width / 2, width / 2, int(np.ceil(width)) + 1)
        xy = (pts[:, None, :] + offsets[None, :, None] * normal[:, None, :]).reshape(-1, 2)
        x, y = np.rint(xy[:, 0]).astype(int), np.rint(xy[:, 1]).astype(int)
        ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        cover[y[ok], x[ok]] = 0.6 + 0.4 * hair[6]
    if min(h, w) < 64:
        return cover
    p = np.pad(cover, ((1, 0), (1, 0)))                                 # 2x2 box blur: soft edges
    return (p[1:, 1:] + p[:-1, 1:] + p[1:, :-1] + p[:-1, :-1]) * np.float32(0.25)


def _fourier(p: dict, z: np.ndarray) -> np.ndarray:
    """sum_k a_k cos(k theta + phi_k) for z = exp(i theta), by Horner's rule on complex powers."""
    coef = p["amps"] * np.exp(1j * p["phases"])
    coef = coef.astype(np.complex64)
    acc = np.zeros(z.shape, np.complex64) + coef[-1]
    for c in coef[-2::-1]:
        acc = acc * z + c
    return (acc * z ** _HARMONICS[0]).real


def render(p: dict, image_size: tuple[int, int] = (128, 128), attributes: bool = False):
    """Render a sample from its `sample_params`.

    Args:
        p: the sample's parameters.
        image_size: ``(height, width)``.
        attributes: also return ISIC 2018 Task 2 style attribute masks of what was drawn.

    Returns:
        ``(image [H, W, 3] uint8, mask [H, W, 1] uint8 {0, 1})``; with ``attributes`` the mask is
        the five attribute masks [H, W, 5] in ``ATTRIBUTES`` order instead (see `ATTRIBUTE_SOURCES`).
    """
    h, w = int(image_size[0]), int(image_size[1])
    s = float(min(h, w))
    if attributes and "attr_draw" not in p:
        raise ValueError("render(attributes=True) needs the parameters of attribute_params(...) in p['attr_draw']")
    p = {k: v if k == "attr_draw" else float(v) if isinstance(v, np.floating) else
         v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64 else v
         for k, v in p.items()}                                          # compute in float32
    ys = ((np.arange(h, dtype=np.float32) + 0.5 - h / 2) / s)[:, None]
    xs = ((np.arange(w, dtype=np.float32) + 0.5 - w / 2) / s)[None, :]
    # background skin with a low-frequency texture and sensor noise
    img = (1 + 0.04 * _upsample(p["skin_noise"], h, w))[..., None] * p["skin"]
    grain = np.random.default_rng(p["noise_seed"]).random((h, w, 1), np.float32)
    img += 0.04 * grain - 0.02
    # lesion (computed in its bounding box): radial Fourier-perturbed boundary, fuzzy border
    soft = p["softness"] / p["radius"] * 0.5                            # border width in units of d
    reach = p["radius"] * (1 + np.abs(p["amps"]).sum()) * (1 + soft)
    cx, cy = p["centre"][0] * s + w / 2, p["centre"][1] * s + h / 2
    r0, r1 = max(int(cy - reach * s) - 1, 0), min(int(cy + reach * s) + 2, h)
    c0, c1 = max(int(cx - reach * s) - 1, 0), min(int(cx + reach * s) + 2, w)
    mask = np.zeros((h, w, 1), np.uint8)
    attr = np.zeros((h, w, 5), np.uint8) if attributes else None
    if r0 < r1 and c0 < c1:
        bx, by = xs[:, c0:c1], ys[r0:r1]
        dx, dy = bx - p["centre"][0], by - p["centre"][1]
        rho = np.hypot(dx, dy)
        wobble = _fourier(p, (dx + 1j * dy) / np.maximum(rho, 1e-9))
        d = rho / (p["radius"] * np.maximum(1 + wobble, 0.35))          # < 1 inside the lesion
        mask[r0:r1, c0:c1, 0] = d < 1.0
        alpha = np.clip(0.5 + (1 - d) / soft, 0, 1)
        # colour: brown, darker towards the centre, blotchy, pigment network, blue-grey veil
        blotch = _upsample(p["blotch_noise"], h, w)[r0:r1, c0:c1]
        depth = np.clip(p["darkness"] + 0.25 * (1 - np.minimum(d, 1)) + p["variegation"] * 0.25 * blotch, 0, 1)
        net = np.sin(2 * np.pi * p["net_freq"] * bx) * np.sin(2 * np.pi * p["net_freq"] * by)
        strength = p["net_strength"]
        if attr is not None:                                             # the network's own draw
            strength = 0.16 if p["attr_draw"]["pigment_network"] else 0.0
        shade = alpha * (1 - strength * (net > 0.55))
        if attr is not None and strength >= _NETWORK_VISIBLE:
            attr[r0:r1, c0:c1, 3] = d < 0.9            # pigment network: the region it covers (as ISIC's masks)
        weights = [alpha * 0 + (1 - alpha), shade * (1 - depth), shade * depth]
        colours = [None, _LIGHT, _DARK]
        if p["veil"]:
            veil = 0.7 * np.clip(_upsample(p["veil_noise"], h, w)[r0:r1, c0:c1] - 0.2, 0, 1) * (d < 0.8)
            weights = [weights[0], weights[1] * (1 - veil), weights[2] * (1 - veil), alpha * veil]
            colours.append(_VEIL)
        box = img[r0:r1, c0:c1] * weights[0][..., None]
        for wt, col in zip(weights[1:], colours[1:]):
            box += wt[..., None] * col
        if attr is not None:
            _draw_attributes(p["attr_draw"], box, attr[r0:r1, c0:c1], bx - p["centre"][0], by - p["centre"][1], d, s)
        img[r0:r1, c0:c1] = box
    # small pigmented spots outside the lesion (not in the mask)
    for sx, sy, sr in p["spots"]:
        px, py = (sx - 0.5) * w / s, (sy - 0.5) * h / s
        if np.hypot(px - p["centre"][0], py - p["centre"][1]) < p["radius"] * 1.6:
            continue
        sigma = 0.004 + 0.008 * sr
        rad = 4 * sigma * s + 1
        a0, a1 = max(int(py * s + h / 2 - rad), 0), min(int(py * s + h / 2 + rad) + 1, h)
        b0, b1 = max(int(px * s + w / 2 - rad), 0), min(int(px * s + w / 2 + rad) + 1, w)
        if a0 < a1 and b0 < b1:
            blob = 0.6 * np.exp(-((xs[:, b0:b1] - px) ** 2 + (ys[a0:a1] - py) ** 2) / (2 * sigma ** 2))[..., None]
            img[a0:a1, b0:b1] = img[a0:a1, b0:b1] * (1 - blob) + _DARK * blob
    # hairs over everything (sparse update)
    hair = _hair_map(p, h, w, s)
    hy, hx = np.nonzero(hair)
    if hy.size:
        a = hair[hy, hx][:, None]
        img[hy, hx] = img[hy, hx] * (1 - a) + _HAIR * a
    # illumination gradient and the dark circular vignette of the dermatoscope, then 8 bits
    light = 1 + p["light_strength"] * (xs * np.cos(p["light_angle"]) + ys * np.sin(p["light_angle"]))
    if p["vignette"] is not None:
        light = light * (1 - 0.92 * np.clip((np.hypot(xs, ys) - p["vignette"]) / 0.06, 0, 1))
    img *= (255 * light)[..., None]
    img += 0.5
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8), (mask if attr is None else attr)


def attribute_params(index: int, seed: int = 0) -> dict:
    """Which attributes sample ``index`` shows and how they are drawn: a random stream of their own
    (``default_rng([seed, index, 2018])``), so the lesion task's images do not depend on them."""
    rng = np.random.default_rng([int(seed), int(index), 2018])
    draw = {name: bool(rng.random() < share) for name, share in ATTRIBUTE_PREVALENCE.items()}
    draw["globule_xy"] = rng.uniform(-0.6, 0.6, (int(rng.integers(4, 10)), 2))
    draw["globule_size"] = rng.uniform(0.008, 0.014)
    draw["milia_xy"] = rng.uniform(-0.55, 0.55, (int(rng.integers(1, 4)), 2))
    draw["negative_freq"] = rng.uniform(10, 16)
    draw["streak_angles"] = rng.uniform(0, 2 * np.pi, int(rng.integers(5, 11)))
    return draw


def _draw_attributes(draw: dict, box: np.ndarray, attr: np.ndarray, dx: np.ndarray, dy: np.ndarray,
                     d: np.ndarray, s: float) -> None:
    """Draw the attribute structures ``draw`` asks for into the lesion's box and mark their masks.

    ``box`` [h, w, 3] colours of the lesion's bounding box, ``attr`` [h, w, 5] its attribute masks,
    ``dx, dy`` offsets from the lesion centre (normalised), ``d`` < 1 inside the lesion.
    """
    inside = d < 0.92
    radius = float(np.sqrt(np.max(np.where(inside, dx ** 2 + dy ** 2, 0)))) or 1e-3
    # The masks mark the regions the structures cover, as ISIC 2018's (superpixel) masks do, not
    # single pixels: a mask of one-pixel lines or dots would vanish when resized.
    if draw["globules"]:                                   # dark dots
        dots, region = np.zeros(d.shape, bool), np.zeros(d.shape, bool)
        for gx, gy in draw["globule_xy"]:
            dist = np.hypot(dx - gx * radius, dy - gy * radius)
            dots |= dist < draw["globule_size"]
            region |= dist < 2.5 * draw["globule_size"]
        box[dots & inside] = box[dots & inside] * 0.35
        attr[..., 0] |= region & inside
    if draw["milia_like_cyst"]:                            # bright cysts
        cysts, region = np.zeros(d.shape, bool), np.zeros(d.shape, bool)
        for mx, my in draw["milia_xy"]:
            dist = np.hypot(dx - mx * radius, dy - my * radius)
            cysts |= dist < 0.012
            region |= dist < 0.025
        box[cysts & inside] = _MILIA
        attr[..., 1] |= region & inside
    if draw["negative_network"]:                           # light lines around darker holes
        f = draw["negative_freq"]
        lines = (np.abs(np.sin(2 * np.pi * f * dx)) < 0.25) | (np.abs(np.sin(2 * np.pi * f * dy)) < 0.25)
        lines &= d < 0.8
        box[lines] = box[lines] * 0.4 + 0.6 * np.array([0.80, 0.66, 0.58], np.float32)
        attr[..., 2] |= d < 0.8
    if draw["streaks"]:                                    # radial lines at the border
        theta = np.arctan2(dy, dx)
        rim = (d > 0.7) & (d < 1.03)
        streak, region = np.zeros(d.shape, bool), np.zeros(d.shape, bool)
        for a in draw["streak_angles"]:
            across = np.abs(np.angle(np.exp(1j * (theta - a)))) * np.hypot(dx, dy)
            streak |= rim & (across < max(0.006, 1.0 / s))
            region |= rim & (across < max(0.02, 2.0 / s))
        box[streak] = box[streak] * 0.3
        attr[..., 4] |= region


def generate_sample(index: int, image_size: tuple[int, int] = (128, 128), seed: int = 0,
                    n_classes: int = 3, attributes: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """One synthetic sample, a pure function of ``(seed, index)``.

    Returns:
        ``(image [H, W, 3] uint8, mask [H, W, 1] uint8 {0, 1}, label int)``; with ``attributes``
        the five attribute masks [H, W, 5] in place of the lesion mask.
    """
    p = sample_params(index, seed, n_classes)
    if attributes:
        p["attr_draw"] = attribute_params(index, seed)
    image, mask = render(p, image_size, attributes=attributes)
    return image, mask, p["label"]


def generate(n: int, image_size: tuple[int, int] = (128, 128), seed: int = 0, with_labels: bool = True,
             n_classes: int = 3, start: int = 0):
    """Generate ``n`` synthetic dermoscopy samples (indices ``start … start+n-1``).

    Args:
        n: number of samples.
        image_size: ``(height, width)``.
        seed: dataset seed; sample ``i`` depends only on ``(seed, i)``.
        with_labels: return the labels (``None`` in their place otherwise).
        n_classes: number of lesion classes.
        start: index of the first sample.

    Returns:
        ``(images uint8 [n, H, W, 3], masks uint8 [n, H, W, 1] {0, 1}, labels int64 [n] | None)``.
    """
    h, w = int(image_size[0]), int(image_size[1])
    images = np.empty((n, h, w, 3), np.uint8)
    masks = np.empty((n, h, w, 1), np.uint8)
    labels = np.empty((n,), np.int64)
    for j in range(n):
        images[j], masks[j], labels[j] = generate_sample(start + j, (h, w), seed, n_classes)
    return images, masks, (labels if with_labels else None)


def synthetic_index(n: int = 200, seed: int = 0, n_classes: int = 3, attributes: bool = False):
    """A `DatasetIndex` named ``"synthetic"`` of ``n`` samples ``synthetic_00000`` …; `load_arrays`
    renders them (at the requested size) from ``(seed, index)``.

    Args:
        n: number of samples.
        seed: dataset seed (>= 0).
        n_classes: number of classes; labels come from `sample_label` without rendering.
        attributes: `load_arrays` gives the five attribute masks (`ATTRIBUTE_SOURCES`) instead of
            the lesion mask.
    """
    from .samples import DatasetIndex, Sample

    samples = [Sample(f"synthetic_{i:05d}", None, None, label=sample_label(i, seed, n_classes))
               for i in range(int(n))]
    meta = {"seed": int(seed), "n_classes": int(n_classes)}
    if attributes:
        # only when set (the lesion-mask cache keys stay as they were); the number is the version of
        # the attribute drawing, so arrays cached by an earlier one are not read back
        meta["attributes"] = ATTRIBUTES_VERSION
    return DatasetIndex("synthetic", None, samples, class_names(n_classes), [], meta)


def sample_index(sample_id: str) -> int:
    """The generator index of a synthetic sample id (``"synthetic_00007"`` -> 7)."""
    try:
        return int(str(sample_id).rsplit("_", 1)[1])
    except (IndexError, ValueError):
        from .errors import DataError
        raise DataError(f"{sample_id!r}: not a synthetic sample id (expected 'synthetic_<number>')") from None
