"""CVRL's clip augmentation, composed from the shared clip-consistent transforms: one set of
parameters per clip (identical over its frames), drawn independently for the two clips."""

from videossl.data.transforms import (
    ColorJitter,
    Compose,
    Maybe,
    RandomGaussianBlur,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomSolarize,
)


def cvrl_clip_augmentation(size=224, blur_p=1.0, solarize_p=0.0, flip_p=0.5):
    """Random resized crop (area 0.3-1, aspect 0.5-2) -> flip -> colour jitter with p 0.8
    (brightness, contrast, saturation 0.8, hue 0.2, random order, contrast mean over the whole
    clip) -> greyscale p 0.2 -> Gaussian blur (sigma 0.1-2) with ``blur_p`` -> solarise with
    ``solarize_p``. The first clip uses blur_p 1, solarize_p 0; the second 0.1 and 0.2."""
    return Compose(
        [
            RandomResizedCrop(size, scale=(0.3, 1.0), ratio=(0.5, 2.0)),
            RandomHorizontalFlip(flip_p),
            Maybe(
                0.8,
                ColorJitter(brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2, random_order=True, over_clip=True),
            ),
            RandomGrayscale(0.2),
            RandomGaussianBlur(p=blur_p, sigma=(0.1, 2.0)),
            RandomSolarize(p=solarize_p),
        ]
    )


def cvrl_pair_augmentations(size=224, flip_p=0.5):
    """The asymmetric pair: (first clip's augmentation, second clip's augmentation)."""
    return (
        cvrl_clip_augmentation(size, blur_p=1.0, solarize_p=0.0, flip_p=flip_p),
        cvrl_clip_augmentation(size, blur_p=0.1, solarize_p=0.2, flip_p=flip_p),
    )
