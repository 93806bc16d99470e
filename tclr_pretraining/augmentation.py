"""TCLR's clip augmentation recipe, composed from the shared clip-consistent transforms."""

from videossl.data.transforms import (
    ColorJitter,
    Compose,
    Grayscale,
    OneOf,
    RandomChannelDrop,
    RandomErase,
    RandomGamma,
    RandomHorizontalFlip,
    RandomSquareCrop,
)


def tclr_clip_augmentation(size=112, flip_p=0.5):
    """Square crop (U(0.6, 1) x short side) -> flip -> colour ops with their own probabilities ->
    greyscale with gamma, or one channel zeroed -> an erased box (9-18 px at 112, scaled with size).
    Output uint8 RGB ``[T, C, H, W]``; TCLR's BGR order and [0, 1] range are applied on the model's
    device by the run's ``InputContract``. The flip comes before the colour operations it commutes
    with."""
    factors = (0.75, 1.25)
    erase = (max(1, round(size * 9 / 112)), max(1, round(size * 18 / 112)))
    return Compose(
        [
            RandomSquareCrop(size, side=(0.6, 1.0)),
            RandomHorizontalFlip(flip_p),
            ColorJitter(
                brightness=factors,
                contrast=factors,
                saturation=factors,
                hue=0.1,
                op_p={"contrast": 0.25, "hue": 0.3, "saturation": 0.3, "brightness": 0.3},
                random_order=False,
            ),
            OneOf(
                [(0.175, Compose([Grayscale(), RandomGamma(p=0.75, gamma=factors)])), (0.125, RandomChannelDrop(p=1.0))]
            ),
            RandomErase(p=0.5, size=erase),
        ]
    )
