"""TCLR's clip augmentation recipe, composed from the shared clip-consistent transforms."""

from videossl.data.augmentations import tclr_colour_block
from videossl.data.transforms import Compose, InChannelOrder, RandomErase, RandomHorizontalFlip, RandomSquareCrop

FACTORS = (0.75, 1.25)


def tclr_colour_operations():
    """The release's colour block: contrast (p .25, first or last with equal odds), then hue,
    saturation and brightness (p .3 each, in that order); then greyscale with gamma (p .175, the
    gamma 3 times in 4) or one channel zeroed (p .125)."""
    return tclr_colour_block(
        FACTORS, 0.1, p_contrast=0.25, p_each=0.3, p_grey=0.175, p_channel_drop=0.125, gamma=FACTORS
    )


def tclr_clip_augmentation(size=112, flip_p=0.5, channel_order="rgb"):
    """Square crop (U(0.6, 1) x short side) -> flip -> the colour operations on the channels in the
    model's ``channel_order`` (the release's BGR frames went through RGB operations as they were)
    -> an erased box (9-18 px at 112, scaled with size). Output uint8 RGB ``[T, C, H, W]``; the
    BGR order and [0, 1] range are applied on the model's device by the run's ``InputContract``.
    The flip comes before the colour operations it commutes with."""
    erase = (max(1, round(size * 9 / 112)), max(1, round(size * 18 / 112)))
    return Compose(
        [
            RandomSquareCrop(size, side=(0.6, 1.0)),
            RandomHorizontalFlip(flip_p),
            InChannelOrder(channel_order, tclr_colour_operations()),
            RandomErase(p=0.5, size=erase),
        ]
    )
