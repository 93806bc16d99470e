"""Augmentation recipes that more than one command uses (a method's pretraining and the shared
finetuning), composed from the clip-consistent transforms."""

from videossl.data.transforms import (
    ColorJitter,
    Compose,
    Grayscale,
    OneOf,
    Pair,
    RandomChannelDrop,
    RandomGamma,
    RandomHorizontalFlip,
    RandomRotation,
    RandomSquareCrop,
)

# VTDL's release resizes the short side to 256 and crops 224 (128 and 112 at 112 px): 0.875 of it.
VTDL_CROP_OF_SHORT_SIDE = 224 / 256


def vtdl_clip_augmentation(size: int = 224, flip_p: float = 0.0) -> Compose:
    """VTDL's training transform for pretraining and finetuning (the release's src/data/config.py
    augmentation_config): rotation within +-10 degrees -> a square of 0.875 x the short side at a
    random place, resized to ``size`` (= resize to 256, random crop 224) -> colour jitter
    (brightness 0.5, contrast 0.5, saturation 0.25, hue 0.5; one of them per clip, as the released
    jitter effectively applies); one set of parameters per clip. Its flip is commented out
    (``flip_p`` 0). The ImageNet normalisation is the checkpoint's input contract."""
    return Compose(
        [
            RandomRotation(10),
            RandomSquareCrop(size, side=(VTDL_CROP_OF_SHORT_SIDE, VTDL_CROP_OF_SHORT_SIDE)),
            RandomHorizontalFlip(flip_p),
            ColorJitter(brightness=0.5, contrast=0.5, saturation=0.25, hue=0.5, only_one=True),
        ]
    )


def tclr_colour_block(
    factors: Pair, hue: float, p_contrast: float, p_each: float, p_grey: float, p_channel_drop: float, gamma: Pair
) -> Compose:
    """TCLR's colour operations (pretraining: tclr_pretraining/dl_tclr.py; linear evaluation:
    linear_eval/dl_linear.py): contrast with ``p_contrast``, first or last with equal odds (one
    draw), between them hue, saturation and brightness with ``p_each`` each, in that order; then
    greyscale (``p_grey``, followed by gamma 3 times in 4) or one channel zeroed (``p_channel_drop``)."""
    contrast = ColorJitter(contrast=factors, random_order=False)
    hsb = ColorJitter(
        hue=hue,
        saturation=factors,
        brightness=factors,
        op_p=p_each,
        random_order=False,
        order=("hue", "saturation", "brightness"),
    )
    half = p_contrast / 2
    grey = Compose([Grayscale(), RandomGamma(p=0.75, gamma=gamma)])
    drop = [(p_channel_drop, RandomChannelDrop(p=1.0))] if p_channel_drop else []
    return Compose(
        [
            OneOf([(half, Compose([contrast, hsb])), (half, Compose([hsb, contrast])), (1 - p_contrast, hsb)]),
            OneOf([(p_grey, grey), *drop]),
        ]
    )
