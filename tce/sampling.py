"""TCE's positive pair: a frame and the frame ``gap`` later in the same video."""


def sample_adjacent_frames(num_frames, rng, gap=1):
    """(anchor index, positive index) with positive = anchor + gap, both inside the video.

    The released code used a gap of 0 (the positive was the anchor itself); the authors confirmed
    1 is meant. A video shorter than gap + 1 frames pairs its last frame with itself.
    """
    anchor = int(rng.integers(0, max(num_frames - gap, 1)))
    return anchor, min(anchor + gap, num_frames - 1)
