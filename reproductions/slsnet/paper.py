"""SLSNet as the shared commands see it: rows, builders, augmentation."""
from __future__ import annotations

from common.training.paper import Paper, TrainingParts, lazy
from reproductions.slsnet.configs import PUBLISHED, ROWS, TABLES


def build_training(cfg) -> TrainingParts:
    """Generator, discriminator, their Adam optimizers and the alternating step (section 3.4)."""
    from reproductions.slsnet.gan import Pix2PixStep, make_optimizers
    from reproductions.slsnet.model import build_discriminator, build_generator

    generator, discriminator = build_generator(cfg), build_discriminator(cfg)
    g_opt, d_opt = make_optimizers(cfg)
    step = Pix2PixStep(generator, discriminator, g_opt, d_opt, cfg)
    return TrainingParts(step=step, models={"generator": generator, "discriminator": discriminator},
                         optimizers={"generator": g_opt, "discriminator": d_opt}, network=generator)


def build_network(cfg):
    from reproductions.slsnet.model import build_generator

    return build_generator(cfg)


def augment(cfg):
    """Online augmentation (section 4.3 says it gave similar results to the 8x offline set)."""
    if cfg.augmentation != "online":
        return None
    from reproductions.slsnet.augment import slsnet_online

    return slsnet_online()


def offline_expand(cfg, images, masks, seed):
    """The 8x offline augmentation of section 4.3 (flips, gamma 0.5/1.0/1.5, CLAHE clip 1-2)."""
    from reproductions.slsnet.augment import slsnet_offline_expand

    return slsnet_offline_expand(images, masks, seed)


PAPER = Paper(
    name="slsnet",
    title="SLSNet (Sarker et al. 2021), a lightweight pix2pix GAN for skin lesion segmentation",
    rows=ROWS,
    tables=TABLES,
    published=PUBLISHED,
    default_row="SLSNet",
    build_training=build_training,
    build_network=build_network,
    augment=augment,
    offline_expand=offline_expand,
    weights_choices=("none",),
    # The embedded synthetic data: a few minutes on a laptop CPU (the paper's schedule on real data).
    synthetic_defaults={"epochs": 8, "synthetic_size": 128, "image_size": (64, 64), "augmentation": "none"},
    size_multiple=lazy("reproductions.slsnet.model:size_multiple"),
    micro_batch=lazy("reproductions.slsnet.model:micro_batch"),
    quick_row="SLSNet (as it trains)",
    quick_note=('note: SLSNet as printed (row "SLSNet": L1 averaged, lambda = 0.1) does not learn: its '
                "discriminator overpowers the generator (the README's \"On its own dataset\"); this quick run "
                'trains row "SLSNet (as it trains)" (L1 summed per image). --row SLSNet trains the printed row'),
    tiny=dict(sets=("multiscale_width=4", "widths=4,8,16", "num_fams=1,1", "fam_dilations=1", "decoder_widths=8,4",
                    "decoder_fams=1", "disc_widths=4,8,16", "augmentation=none"),
              image_size=32, synthetic_size=32, batch_size=4, argv=("--seed", "3", "--quiet"),
              epochs=4, split="val", n_images=32),
)
