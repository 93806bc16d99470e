"""The synthetic motion dataset: real video files in the UCF101 layout, classes defined by motion,
with a second, independent label: the moving object's appearance.

Each video shows one object moving over a smooth background, with a few small distractor
shapes. The motion class (direction, rotation sense, zoom, oscillation, orbit, the order of two
movements, speed ...) and the appearance class (the object's kind: a shape with its own fill
pattern, e.g. a ringed hexagon) are drawn independently; colours, background, distractors,
positions, sizes and speeds are nuisances. Every motion is
made so that its frames taken one at a time look alike across motion classes (translations wrap
around the frame, zooms are symmetric about the middle of the video), so no single frame tells
the motion class, while a single frame does show the appearance class. The "then" classes hold
the same movements in the opposite order: the same frames, so only temporal order tells them apart.

The output mirrors UCF101 exactly, so the real loading path is what demos and tests exercise::

    OUT/UCF-101/<Class>/v_<Class>_g<GG>_c<CC>.avi
    OUT/ucfTrainTestlist/classInd.txt, trainlist01.txt, testlist01.txt   (CRLF, official format)
    OUT/ucfTrainTestlist/appearance_labels.txt   '<video> <appearance class>' lines (--labels)

Train and test groups are disjoint, as in UCF101. Deterministic for a seed.
"""

import json
import math
import os
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from videossl.video.writer import write_video

SHAPES = ("triangle", "square", "pentagon", "hexagon", "star", "cross", "arrow")
# Stored in the dataset's stamp: a dataset rendered by another version is rendered again.
RENDERER_VERSION = 2
# Smooth backgrounds only: a striped or checkered background would show the object's fill patterns.
BACKGROUNDS = ("plain", "gradient", "blobs")


@dataclass
class SyntheticConfig:
    classes: int = 10
    videos_per_class: int = 40
    frames: int = 32
    width: int = 64
    height: int = 64
    seed: int = 0
    format: str = "avi"
    clips_per_group: int = 4
    test_fraction: float = 0.3
    distractors: int = 2
    fps: int = 25
    motions: str = ""  # comma-separated motion classes; empty: the first ``classes`` of CLASS_NAMES

    def motion_names(self) -> tuple[str, ...]:
        if self.motions:
            return tuple(name.strip() for name in self.motions.split(","))
        return CLASS_NAMES[: self.classes]


# ----------------------------------------------------------------------------------------------
# Motions: each returns per-frame centre x, centre y (pixels), angle (degrees) and scale factor.
# ----------------------------------------------------------------------------------------------


def _wrap(v, size, margin):
    """Toroidal position: an object leaving one side re-enters from the other."""
    return np.mod(v + margin, size + 2 * margin) - margin


def _translate(direction_deg, speeds=(0.03, 0.06)):
    """Constant velocity, ``speeds`` (a range, in frame sides per frame) drawn per video."""

    def motion(rng, t, w, h, radius):
        speed = rng.uniform(*speeds) * min(w, h)
        a = math.radians(direction_deg)
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        x = _wrap(x0 + speed * math.cos(a) * t, w, radius)
        y = _wrap(y0 - speed * math.sin(a) * t, h, radius)
        return x, y, _idle_spin(rng, t), np.ones_like(t)

    return motion


def _idle_spin(rng, t):
    """Slow random rotation for motions that are not about rotation: class-independent."""
    return rng.uniform(0, 360) + rng.uniform(-1.0, 1.0) * t


def _still_position(rng, t, w, h, radius):
    jitter = 0.01 * min(w, h)
    x = rng.uniform(radius, w - radius) + rng.normal(0, jitter, len(t)).cumsum() * 0.3
    y = rng.uniform(radius, h - radius) + rng.normal(0, jitter, len(t)).cumsum() * 0.3
    return x, y


def _rotate(sign):
    def motion(rng, t, w, h, radius):
        x, y = _still_position(rng, t, w, h, radius)
        angle = rng.uniform(0, 360) + sign * rng.uniform(6.0, 12.0) * t
        return x, y, angle, np.ones_like(t)

    return motion


def _zoom(sign):
    def motion(rng, t, w, h, radius):
        x, y = _still_position(rng, t, w, h, radius)
        growth = math.log(rng.uniform(2.0, 3.0)) / max(len(t) - 1, 1)
        scale = np.exp(sign * growth * (t - t.mean()))  # symmetric about the middle frame
        return x, y, _idle_spin(rng, t), scale

    return motion


def _oscillate(axis):
    def motion(rng, t, w, h, radius):
        x, y = _still_position(rng, t, w, h, radius)
        size = w if axis == "x" else h
        amplitude = rng.uniform(0.15, 0.28) * size
        offset = amplitude * np.sin(2 * np.pi * t / rng.uniform(8, 16) + rng.uniform(0, 2 * np.pi))
        centre = size / 2 + rng.uniform(-0.1, 0.1) * size
        if axis == "x":
            x = centre + offset
        else:
            y = centre + offset
        return x, y, _idle_spin(rng, t), np.ones_like(t)

    return motion


def _orbit(sign):
    def motion(rng, t, w, h, radius):
        cx, cy = w / 2 + rng.uniform(-0.1, 0.1) * w, h / 2 + rng.uniform(-0.1, 0.1) * h
        r = rng.uniform(0.18, 0.3) * min(w, h)
        phase = np.radians(rng.uniform(0, 360) + sign * rng.uniform(8.0, 14.0) * t)
        return cx + r * np.cos(phase), cy + r * np.sin(phase), _idle_spin(rng, t), np.ones_like(t)

    return motion


def _bounce(rng, t, w, h, radius):
    x, _ = _still_position(rng, t, w, h, radius)
    floor = h - radius
    height = rng.uniform(0.35, 0.6) * h
    phase = np.pi * t / rng.uniform(8, 14) + rng.uniform(0, np.pi)
    y = floor - height * np.abs(np.sin(phase))
    return x, y, _idle_spin(rng, t), np.ones_like(t)


def _pulse(rng, t, w, h, radius):
    x, y = _still_position(rng, t, w, h, radius)
    scale = 1.0 + 0.4 * np.sin(2 * np.pi * t / rng.uniform(6, 12) + rng.uniform(0, 2 * np.pi))
    return x, y, _idle_spin(rng, t), scale


def _still(rng, t, w, h, radius):
    x, y = _still_position(rng, t, w, h, radius)
    return x, y, _idle_spin(rng, t), np.ones_like(t)


def _zoom_then_back(sign):
    """Zoom one way for the first half and back for the second: the same frames as the opposite
    sign played in the other order."""

    def motion(rng, t, w, h, radius):
        x, y = _still_position(rng, t, w, h, radius)
        peak = 1 - 2 * np.abs(t / max(len(t) - 1, 1) - 0.5)  # 0 at both ends, 1 in the middle
        scale = np.exp(sign * math.log(rng.uniform(2.0, 3.0)) * (peak - 0.5))
        return x, y, _idle_spin(rng, t), scale

    return motion


def _spin_then_back(sign):
    def motion(rng, t, w, h, radius):
        x, y = _still_position(rng, t, w, h, radius)
        middle = (len(t) - 1) / 2
        angle = rng.uniform(0, 360) + sign * rng.uniform(6.0, 12.0) * (middle - np.abs(t - middle))
        return x, y, angle, np.ones_like(t)

    return motion


MOTIONS = {
    "MoveRight": _translate(0),
    "MoveLeft": _translate(180),
    "MoveUp": _translate(90),
    "MoveDown": _translate(270),
    "RotateClockwise": _rotate(+1),
    "RotateCounterClockwise": _rotate(-1),
    "ZoomIn": _zoom(+1),
    "ZoomOut": _zoom(-1),
    "OscillateHorizontal": _oscillate("x"),
    "OscillateVertical": _oscillate("y"),
    "OrbitClockwise": _orbit(+1),
    "OrbitCounterClockwise": _orbit(-1),
    "MoveUpRight": _translate(45),
    "MoveDownLeft": _translate(225),
    "Bounce": _bounce,
    "Pulse": _pulse,
    "Still": _still,
    # appended so that the first classes (and the videos of a seed) stay as they were
    "ZoomInThenOut": _zoom_then_back(+1),
    "ZoomOutThenIn": _zoom_then_back(-1),
    "SpinClockwiseThenBack": _spin_then_back(+1),
    "SpinCounterClockwiseThenBack": _spin_then_back(-1),
    # three times the usual speed: only the speed tells them apart from MoveRight and MoveLeft
    "MoveRightFast": _translate(0, speeds=(0.12, 0.18)),
    "MoveLeftFast": _translate(180, speeds=(0.12, 0.18)),
}
CLASS_NAMES = tuple(MOTIONS)
# The benchmark's motion classes: translations, rotations and zooms, the same movements in the
# opposite order, and the same translation at another speed (temporal modelling matters).
BENCHMARK_MOTIONS = (
    "MoveRight",
    "MoveLeft",
    "MoveUp",
    "MoveDown",
    "RotateClockwise",
    "RotateCounterClockwise",
    "ZoomIn",
    "ZoomOut",
    "ZoomInThenOut",
    "ZoomOutThenIn",
    "SpinClockwiseThenBack",
    "SpinCounterClockwiseThenBack",
    "MoveRightFast",
    "MoveLeftFast",
)
# Appearance classes: the moving object's kind, a shape with its own fill pattern (drawn
# independently of the motion; the two colours are random).
APPEARANCES = {
    "StripedTriangle": ("triangle", "stripes"),
    "CheckeredSquare": ("square", "checker"),
    "DottedPentagon": ("pentagon", "dots"),
    "RingedHexagon": ("hexagon", "rings"),
    "SolidStar": ("star", "solid"),
    "HalvedCross": ("cross", "halves"),
    "OutlinedArrow": ("arrow", "outline"),
}
APPEARANCE_NAMES = tuple(APPEARANCES)
APPEARANCE_LABELS = "appearance_labels.txt"


# ----------------------------------------------------------------------------------------------
# Appearance: drawn independently of the class.
# ----------------------------------------------------------------------------------------------


def _shape_polygon(kind):
    """Unit-radius polygon vertices for a shape, pointing up."""

    def regular(n, start: int = 90):
        a = np.radians(start + 360.0 * np.arange(n) / n)
        return np.stack([np.cos(a), -np.sin(a)], 1)

    if kind == "triangle":
        return regular(3)
    if kind == "square":
        return regular(4, 45)
    if kind == "pentagon":
        return regular(5)
    if kind == "hexagon":
        return regular(6)
    if kind == "star":
        outer, inner = regular(5), 0.45 * regular(5, 90 + 36)
        return np.stack([outer, inner], 1).reshape(-1, 2)
    if kind == "cross":
        a, b = 1.0, 0.35
        return np.array(
            [[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b], [b, a], [-b, a], [-b, b], [-a, b], [-a, -b], [-b, -b]]
        )
    if kind == "arrow":
        return np.array([[0, -1], [0.7, -0.1], [0.3, -0.1], [0.3, 1], [-0.3, 1], [-0.3, -0.1], [-0.7, -0.1]])
    raise ValueError(kind)


def _random_colour(rng, avoid=None, min_distance: float = 90.0):
    for _ in range(20):
        colour = rng.uniform(0, 255, 3)
        if avoid is None or np.linalg.norm(colour - avoid) >= min_distance:
            return colour
    return 255.0 - avoid


def _contrasting(colour):
    """A dark or light version of ``colour``: a pattern in the two differs in luminance, which
    survives the codec's colour subsampling."""
    luma = float(np.dot(colour, (0.299, 0.587, 0.114)))
    return colour * 0.25 if luma > 110 else colour + (255 - colour) * 0.75


def _background(rng, h, w):
    base = rng.uniform(0, 255, 3)
    other = _random_colour(rng, base, 40.0)
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "plain":
        mix = np.zeros((h, w), np.float32)
    elif kind == "gradient":
        a = rng.uniform(0, 2 * np.pi)
        mix = np.cos(a) * xx + np.sin(a) * yy
        mix = (mix - mix.min()) / max(float(np.ptp(mix)), 1e-6)
    else:  # blobs: smooth random noise
        noise = rng.uniform(0, 1, (max(2, h // 8), max(2, w // 8))).astype(np.float32)
        mix = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    strength = rng.uniform(0.2, 0.6)
    image = base[None, None] * (1 - strength * mix[..., None]) + other[None, None] * (strength * mix[..., None])
    return image.astype(np.float32)


def _texture(kind, u, v):
    """Where the second colour goes (bool) at object coordinates (u, v), in units of the radius.
    Coarse patterns: they must survive a backbone stem's four-fold downsampling at 32 pixels."""
    if kind == "stripes":
        return np.floor(v / 0.6) % 2 == 1
    if kind == "checker":
        return (np.floor(u / 0.8) + np.floor(v / 0.8)) % 2 == 1
    if kind == "dots":
        return np.hypot((u + 0.5) % 1.0 - 0.5, (v + 0.5) % 1.0 - 0.5) < 0.3
    if kind == "rings":
        return np.floor(np.hypot(u, v) / 0.5) % 2 == 1
    if kind == "halves":
        return u > 0
    return np.zeros_like(u, bool)  # solid


def _draw_shape(canvas, polygon, cx, cy, angle_deg, radius, fill, marker, texture: str = "solid", second=None) -> None:
    """Draw a filled polygon (``texture`` in ``second`` colour over ``fill``) with an off-centre
    marker in a further colour, which makes the orientation (rotation) visible."""
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    shift = 4  # sub-pixel precision: smooth motion at small sizes

    def fill_polygon(image, scale, colour) -> None:
        points = polygon @ rot.T * radius * scale + np.array([cx, cy])
        cv2.fillPoly(image, [np.round(points * (1 << shift)).astype(np.int32)], colour, cv2.LINE_AA, shift)

    if texture == "solid" or second is None:
        fill_polygon(canvas, 1.0, fill.tolist())
    elif texture == "outline":
        fill_polygon(canvas, 1.0, fill.tolist())
        fill_polygon(canvas, 0.55, second.tolist())
    else:
        alpha = np.zeros(canvas.shape[:2], np.float32)
        fill_polygon(alpha, 1.0, 1.0)
        yy, xx = np.mgrid[0 : canvas.shape[0], 0 : canvas.shape[1]].astype(np.float32) + 0.5
        u = (rot[0, 0] * (xx - cx) + rot[1, 0] * (yy - cy)) / radius  # into the object's frame
        v = (rot[0, 1] * (xx - cx) + rot[1, 1] * (yy - cy)) / radius
        colour = np.where(_texture(texture, u, v)[..., None], second, fill)
        canvas[:] = canvas * (1 - alpha[..., None]) + colour * alpha[..., None]
    tip = np.array([0.0, -0.55]) @ rot.T * radius + np.array([cx, cy])
    cv2.circle(
        canvas,
        tuple(np.round(tip * (1 << shift)).astype(int)),
        int(max(1, 0.22 * radius) * (1 << shift)),
        marker.tolist(),
        -1,
        cv2.LINE_AA,
        shift,
    )


def render_video(
    class_name: str, rng: np.random.Generator, frames: int = 32, height: int = 64, width: int = 64, distractors: int = 2
) -> np.ndarray:
    """Render one video of the given motion class: uint8 RGB ``[frames, height, width, 3]``."""
    return render_labelled_video(class_name, rng, frames, height, width, distractors)[0]


def render_labelled_video(
    class_name: str, rng: np.random.Generator, frames: int = 32, height: int = 64, width: int = 64, distractors: int = 2
) -> tuple[np.ndarray, str]:
    """(uint8 RGB ``[frames, height, width, 3]``, appearance class name) of one video."""
    motion = MOTIONS[class_name]
    t = np.arange(frames, dtype=np.float64)
    background = _background(rng, height, width)
    radius = rng.uniform(0.25, 0.33) * min(height, width)
    kind = APPEARANCE_NAMES[int(rng.integers(len(APPEARANCE_NAMES)))]
    shape, texture = APPEARANCES[kind]
    polygon = _shape_polygon(shape)
    fill = _random_colour(rng, background.reshape(-1, 3).mean(0))
    marker = _random_colour(rng, fill)
    second = _contrasting(fill)
    x, y, angle, scale = motion(rng, t, width, height, radius)
    items = []
    for _ in range(int(rng.integers(0, distractors + 1))):
        r = rng.uniform(0.05, 0.09) * min(height, width)
        dx, dy = _still_position(rng, t, width, height, r)
        items.append(
            (
                _shape_polygon(SHAPES[rng.integers(len(SHAPES))]),
                dx,
                dy,
                rng.uniform(0, 360),
                r,
                _random_colour(rng),
                _random_colour(rng),
            )
        )
    out = np.empty((frames, height, width, 3), np.uint8)
    for k in range(frames):
        canvas = background.copy()
        for poly, dx, dy, da, r, c1, c2 in items:
            _draw_shape(canvas, poly, dx[k], dy[k], da, r, c1, c2)
        _draw_shape(canvas, polygon, x[k], y[k], angle[k], radius * scale[k], fill, marker, texture, second)
        out[k] = np.clip(canvas, 0, 255).astype(np.uint8)
    return out, kind


# ----------------------------------------------------------------------------------------------
# The dataset on disk.
# ----------------------------------------------------------------------------------------------


def video_relpath(class_name: str, group: int, clip: int, ext: str) -> str:
    return f"{class_name}/v_{class_name}_g{group:02d}_c{clip:02d}.{ext}"


def plan_videos(config: SyntheticConfig) -> list[tuple[int, str, int, int, bool]]:
    """[(class index, class name, group, clip, is_test)] for the whole dataset."""
    per_group = config.clips_per_group
    if config.videos_per_class <= per_group:  # tiny sets: at least two groups, one held out
        per_group = max(1, config.videos_per_class // 2)
    groups = math.ceil(config.videos_per_class / per_group)
    test_groups = min(groups - 1, max(1, round(groups * config.test_fraction))) if groups > 1 else 0
    plan = []
    for c, name in enumerate(config.motion_names()):
        for v in range(config.videos_per_class):
            group, clip = v // per_group + 1, v % per_group + 1
            plan.append((c, name, group, clip, group <= test_groups))
    return plan


def _write_lines(path: str, lines) -> None:
    with open(path, "w", newline="") as f:
        f.write("".join(line + "\r\n" for line in lines))  # official lists use CRLF


def generate_dataset(out_dir: str, config: SyntheticConfig, progress: bool = True) -> tuple[str, str]:
    """Write the dataset under ``out_dir``; an existing complete dataset of the same config is kept.

    Returns (video root, split directory).
    """
    if not 1 <= config.classes <= len(CLASS_NAMES):
        raise ValueError(f"classes must be between 1 and {len(CLASS_NAMES)}")
    unknown = [name for name in config.motion_names() if name not in MOTIONS]
    if unknown:
        raise ValueError(f"unknown motion classes {', '.join(unknown)}; known: {', '.join(CLASS_NAMES)}")
    if config.format not in ("avi", "mp4"):
        raise ValueError("format must be avi or mp4")
    video_root = os.path.join(out_dir, "UCF-101")
    split_dir = os.path.join(out_dir, "ucfTrainTestlist")
    stamp = os.path.join(out_dir, "synthetic.json")
    stamped = {**asdict(config), "renderer": RENDERER_VERSION}
    plan = plan_videos(config)
    paths = [video_relpath(name, g, c, config.format) for _, name, g, c, _ in plan]
    if os.path.exists(stamp):
        with open(stamp) as f:
            if (
                json.load(f) == stamped
                and all(os.path.exists(os.path.join(video_root, p)) for p in paths)
                and os.path.exists(os.path.join(split_dir, APPEARANCE_LABELS))
            ):
                return video_root, split_dir
    os.makedirs(split_dir, exist_ok=True)
    iterator = zip(plan, paths)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(list(iterator), desc="synthetic videos", unit="video")
    appearance = []
    for (c, name, group, clip, _), rel in iterator:
        rng = np.random.default_rng([config.seed, c, group, clip])
        frames, kind = render_labelled_video(name, rng, config.frames, config.height, config.width, config.distractors)
        appearance.append(f"{rel} {kind}")
        path = os.path.join(video_root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_video(path, frames, fps=config.fps)
    names = config.motion_names()
    _write_lines(os.path.join(split_dir, APPEARANCE_LABELS), appearance)
    _write_lines(os.path.join(split_dir, "classInd.txt"), [f"{i + 1} {n}" for i, n in enumerate(names)])
    _write_lines(
        os.path.join(split_dir, "trainlist01.txt"),
        [f"{p} {c + 1}" for (c, *_, test), p in zip(plan, paths) if not test],
    )
    _write_lines(os.path.join(split_dir, "testlist01.txt"), [p for (*_, test), p in zip(plan, paths) if test])
    with open(stamp, "w") as f:
        json.dump(stamped, f, indent=1)
    return video_root, split_dir
