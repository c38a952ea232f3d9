"""The 24 object classes of the novel-class experiment: silhouette generators, in three families.

Every generator is called `fn(rng, yy, xx) -> [M, M] int32 part map` (0 = background, 1..P =
parts) on a square working grid whose coordinates `yy, xx` run over [-1, 1]. Each class draws
its own random parameters (rotation, proportions, number of spikes/petals/teeth, font), so one
class is a *family* of silhouettes, never one template. `render_silhouette` crops the part map to
its tight box and resizes it to the object's (height, width), so the shape always fills its box.

Families (8 classes each; seen/unseen alternate inside each family, see CLASSES):
  glyph     letters rendered from the fonts matplotlib ships (DejaVu, STIX, Computer Modern),
            random font, weight, rotation and aspect ratio; one part.
  geometric stars, rings, crescents, crosses, arrows, blobs, gears, chevrons; one part.
  compound  objects made of 2-3 parts that get *different* textures (dumbbell, snowman, key,
            flower, mushroom, lollipop, table, house): grouping them needs more than colour.
"""

import dataclasses
import functools
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORK_SIZE = 96  # side of the working grid the silhouettes are drawn on

# Bold faces only: strokes must stay wider than a feature cell (stride 4) at the smallest sizes.
FONT_FILES = ("DejaVuSans-Bold.ttf", "DejaVuSans-BoldOblique.ttf", "DejaVuSerif-Bold.ttf",
              "DejaVuSerif-BoldItalic.ttf", "DejaVuSansMono-Bold.ttf",
              "DejaVuSansMono-BoldOblique.ttf", "STIXGeneralBol.ttf", "STIXGeneralBolIta.ttf",
              "cmb10.ttf")


@dataclasses.dataclass(frozen=True)
class ClassSpec:
  """One class: `name`, `family`, `seen` (mask labels given) and its generator."""
  name: str
  family: str
  seen: bool
  generator: object


def _rotate(yy, xx, angle):
  c, s = np.cos(angle), np.sin(angle)
  return c * yy - s * xx, s * yy + c * xx


def _angle(rng, max_degrees=180.0):
  return np.deg2rad(rng.uniform(-max_degrees, max_degrees))


def _disc(yy, xx, cy, cx, r):
  return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def _rect(yy, xx, y0, x0, y1, x1):
  return (yy >= y0) & (yy <= y1) & (xx >= x0) & (xx <= x1)


def _parts(*masks):
  """Later parts win where parts overlap; returns the [M, M] int32 part map."""
  out = np.zeros(masks[0].shape, np.int32)
  for i, m in enumerate(masks):
    out[m] = i + 1
  return out


def _polygon(points_yx):
  """[K, 2] points in [-1, 1] (y, x) -> [M, M] bool filled polygon."""
  size = WORK_SIZE
  image = Image.new("L", (size, size))
  xy = [((x + 1) / 2 * (size - 1), (y + 1) / 2 * (size - 1)) for y, x in points_yx]
  ImageDraw.Draw(image).polygon(xy, fill=255)
  return np.asarray(image) > 127


def _rotated_points(points_yx, angle, scale=0.9):
  pts = np.asarray(points_yx, np.float64)
  c, s = np.cos(angle), np.sin(angle)
  y = c * pts[:, 0] - s * pts[:, 1]
  x = s * pts[:, 0] + c * pts[:, 1]
  return np.stack([y, x], 1) * scale


def _dilate(mask, radius):
  """Binary dilation by a (2 radius + 1)^2 square (numpy shifts; no scipy)."""
  out = mask.copy()
  padded = np.pad(mask, radius)
  size = mask.shape
  for dy in range(2 * radius + 1):
    for dx in range(2 * radius + 1):
      out |= padded[dy:dy + size[0], dx:dx + size[1]]
  return out


# ------------------------------------------------------------------------------------ glyphs
@functools.lru_cache(maxsize=None)
def _font(file_name, size):
  import matplotlib  # pylint: disable=import-outside-toplevel  (ships the font files)
  return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", file_name),
                            size)


def _glyph(char):
  def generate(rng, yy, xx):
    del yy, xx
    size = WORK_SIZE
    font = _font(FONT_FILES[rng.integers(len(FONT_FILES))], int(size * 0.7))
    image = Image.new("L", (size, size))
    ImageDraw.Draw(image).text((size / 2, size / 2), char, font=font, fill=255, anchor="mm")
    image = image.rotate(float(rng.uniform(-30, 30)), resample=Image.BILINEAR)
    glyph = np.asarray(image) > 127
    return _dilate(glyph, int(rng.integers(1, 4))).astype(np.int32)
  return generate


# --------------------------------------------------------------------------------- geometric
def _star(rng, yy, xx):
  k = int(rng.integers(5, 9))
  inner = rng.uniform(0.35, 0.6)
  phase = rng.uniform(0, 2 * np.pi)
  angles = phase + np.arange(2 * k) * np.pi / k
  radii = np.where(np.arange(2 * k) % 2 == 0, 1.0, inner) * rng.uniform(0.85, 1.0, 2 * k)
  return _polygon(np.stack([radii * np.sin(angles), radii * np.cos(angles)], 1) * 0.95).astype(
      np.int32)


def _ring(rng, yy, xx):
  r2 = yy ** 2 + xx ** 2
  inner = rng.uniform(0.35, 0.65)
  return ((r2 <= 0.95 ** 2) & (r2 >= inner ** 2)).astype(np.int32)


def _crescent(rng, yy, xx):
  yy, xx = _rotate(yy, xx, _angle(rng))
  d = rng.uniform(0.3, 0.6)
  r = rng.uniform(0.7, 0.95)
  return (_disc(yy, xx, 0, 0, 0.95) & ~_disc(yy, xx, 0, d, r)).astype(np.int32)


def _cross(rng, yy, xx):
  yy, xx = _rotate(yy, xx, _angle(rng, 45))
  a = rng.uniform(0.18, 0.38)
  return ((_rect(yy, xx, -0.9, -a, 0.9, a) | _rect(yy, xx, -a, -0.9, a, 0.9))).astype(np.int32)


def _arrow(rng, yy, xx):
  shaft = rng.uniform(0.15, 0.28)
  head = rng.uniform(0.45, 0.8)
  neck = rng.uniform(0.0, 0.4)
  pts = [(-shaft, -1), (-shaft, neck), (-head, neck), (0, 1), (head, neck), (shaft, neck),
         (shaft, -1)]
  return _polygon(_rotated_points(pts, _angle(rng))).astype(np.int32)


def _blob(rng, yy, xx):
  theta = np.arctan2(yy, xx)
  radius = np.ones_like(theta)
  for k in range(2, 6):
    radius += rng.uniform(0, 0.22) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
  radius *= 0.95 / radius.max()
  return (np.sqrt(yy ** 2 + xx ** 2) <= radius).astype(np.int32)


def _gear(rng, yy, xx):
  teeth = int(rng.integers(7, 13))
  body = rng.uniform(0.65, 0.8)
  hole = rng.uniform(0.15, 0.35)
  theta = np.arctan2(yy, xx) + rng.uniform(0, 2 * np.pi)
  r = np.sqrt(yy ** 2 + xx ** 2)
  tooth = np.cos(teeth * theta) > rng.uniform(-0.2, 0.3)
  return (((r <= body) | ((r <= 0.95) & tooth)) & (r >= hole)).astype(np.int32)


def _chevron(rng, yy, xx):
  t = rng.uniform(0.25, 0.5)
  depth = rng.uniform(0.2, 0.8)
  pts = [(-1, -1), (depth - 1, 0), (-1, 1), (-1 + t, 1), (depth - 1 + t, 0), (-1 + t, -1)]
  pts = [(y + 0.5 - depth / 2, x) for y, x in pts]
  pts = [(y * 1.3, x) for y, x in pts]
  return _polygon(_rotated_points(pts, _angle(rng))).astype(np.int32)


# ---------------------------------------------------------------------------------- compound
def _dumbbell(rng, yy, xx):
  yy, xx = _rotate(yy, xx, _angle(rng))
  r = rng.uniform(0.25, 0.4)
  bar = rng.uniform(0.1, 0.18)
  ends = _disc(yy, xx, 0, -0.95 + r, r) | _disc(yy, xx, 0, 0.95 - r, r * rng.uniform(0.7, 1.0))
  return _parts(_rect(yy, xx, -bar, -0.9 + r, bar, 0.9 - r), ends)


def _snowman(rng, yy, xx):
  yy, xx = _rotate(yy, xx, _angle(rng, 25))
  r1 = rng.uniform(0.38, 0.5)
  r2 = r1 * rng.uniform(0.55, 0.85)
  c1 = 0.95 - r1
  c2 = c1 - r1 - r2 * rng.uniform(0.6, 0.9)
  parts = [_disc(yy, xx, c1, 0, r1), _disc(yy, xx, c2, 0, r2)]
  if rng.uniform() < 0.5:
    r3 = r2 * rng.uniform(0.5, 0.8)
    parts.append(_disc(yy, xx, c2 - r2 - r3 * 0.7, 0, r3))
  return _parts(*parts)


def _key(rng, yy, xx):
  yy, xx = _rotate(yy, xx, _angle(rng))
  r = rng.uniform(0.3, 0.45)
  hole = r * rng.uniform(0.35, 0.55)
  bow = _disc(yy, xx, 0, -0.95 + r, r) & ~_disc(yy, xx, 0, -0.95 + r, hole)
  w = rng.uniform(0.09, 0.15)
  shaft = _rect(yy, xx, -w, -0.95 + 2 * r - 0.05, w, 0.95)
  teeth = np.zeros_like(shaft)
  for i in range(int(rng.integers(2, 4))):
    x0 = 0.9 - i * 0.2
    teeth |= _rect(yy, xx, w, x0 - 0.12, w + rng.uniform(0.15, 0.35), x0)
  return _parts(shaft | teeth, bow)


def _flower(rng, yy, xx):
  petals = int(rng.integers(5, 9))
  centre = rng.uniform(0.2, 0.35)
  length = 0.95 - centre
  width = rng.uniform(0.15, 0.28)
  phase = rng.uniform(0, 2 * np.pi)
  petal = np.zeros(yy.shape, bool)
  for i in range(petals):
    a = phase + 2 * np.pi * i / petals
    py, px = _rotate(yy, xx, -a)
    petal |= ((px - centre - length / 2) / (length / 2)) ** 2 + (py / width) ** 2 <= 1
  return _parts(petal, _disc(yy, xx, 0, 0, centre))


def _mushroom(rng, yy, xx):
  yy, xx = _rotate(yy, xx, _angle(rng, 30))
  cap_h = rng.uniform(0.5, 0.9)
  stem_w = rng.uniform(0.12, 0.3)
  cap = ((yy + 0.95 - cap_h) / cap_h) ** 2 + (xx / 0.95) ** 2 <= 1
  cap &= yy <= -0.95 + cap_h
  stem = _rect(yy, xx, -0.95 + cap_h - 0.05, -stem_w, 0.95, stem_w)
  return _parts(stem, cap)


def _lollipop(rng, yy, xx):
  yy, xx = _rotate(yy, xx, _angle(rng))
  r = rng.uniform(0.3, 0.5)
  w = rng.uniform(0.09, 0.15)
  return _parts(_rect(yy, xx, -w, -0.95 + r, w, 0.95), _disc(yy, xx, 0, -0.95 + r, r))


def _table(rng, yy, xx):
  yy, xx = _rotate(yy, xx, _angle(rng, 20))
  top = rng.uniform(0.15, 0.3)
  leg = rng.uniform(0.14, 0.24)
  inset = rng.uniform(0.0, 0.3)
  legs = (_rect(yy, xx, -0.9 + top, -0.9 + inset, 0.9, -0.9 + inset + leg) |
          _rect(yy, xx, -0.9 + top, 0.9 - inset - leg, 0.9, 0.9 - inset))
  return _parts(legs, _rect(yy, xx, -0.9, -0.95, -0.9 + top, 0.95))


def _house(rng, yy, xx):
  yy, xx = _rotate(yy, xx, _angle(rng, 20))
  roof_h = rng.uniform(0.4, 0.9)
  overhang = rng.uniform(0.0, 0.15)
  body = _rect(yy, xx, -0.95 + roof_h, -0.8, 0.95, 0.8)
  if rng.uniform() < 0.6:  # a door: a hole through the body
    body &= ~_rect(yy, xx, 0.95 - rng.uniform(0.3, 0.6), -0.15, 0.95, 0.15)
  roof = (yy >= -0.95) & (yy <= -0.95 + roof_h) & (
      np.abs(xx) <= (0.8 + overhang) * (yy + 0.95) / roof_h)
  return _parts(body, roof)


# Seen / unseen alternate inside each family (fixed in PROTOCOL.md before any run).
CLASSES = (
    ClassSpec("A", "glyph", True, _glyph("A")),
    ClassSpec("B", "glyph", False, _glyph("B")),
    ClassSpec("E", "glyph", True, _glyph("E")),
    ClassSpec("G", "glyph", False, _glyph("G")),
    ClassSpec("K", "glyph", True, _glyph("K")),
    ClassSpec("M", "glyph", False, _glyph("M")),
    ClassSpec("S", "glyph", True, _glyph("S")),
    ClassSpec("X", "glyph", False, _glyph("X")),
    ClassSpec("star", "geometric", True, _star),
    ClassSpec("ring", "geometric", False, _ring),
    ClassSpec("crescent", "geometric", True, _crescent),
    ClassSpec("cross", "geometric", False, _cross),
    ClassSpec("arrow", "geometric", True, _arrow),
    ClassSpec("blob", "geometric", False, _blob),
    ClassSpec("gear", "geometric", True, _gear),
    ClassSpec("chevron", "geometric", False, _chevron),
    ClassSpec("dumbbell", "compound", True, _dumbbell),
    ClassSpec("snowman", "compound", False, _snowman),
    ClassSpec("key", "compound", True, _key),
    ClassSpec("flower", "compound", False, _flower),
    ClassSpec("mushroom", "compound", True, _mushroom),
    ClassSpec("lollipop", "compound", False, _lollipop),
    ClassSpec("table", "compound", True, _table),
    ClassSpec("house", "compound", False, _house),
)

SEEN_IDS = tuple(i + 1 for i, c in enumerate(CLASSES) if c.seen)
UNSEEN_IDS = tuple(i + 1 for i, c in enumerate(CLASSES) if not c.seen)


def render_silhouette(class_id, rng, height, width):
  """[height, width] int32 part map of one instance of `class_id` (1-based), filling its box."""
  size = WORK_SIZE
  coords = (np.arange(size) + 0.5) / size * 2.0 - 1.0
  yy, xx = np.meshgrid(coords, coords, indexing="ij")
  parts = CLASSES[class_id - 1].generator(rng, yy, xx)
  ys, xs = np.nonzero(parts)
  if ys.size == 0:
    raise ValueError(f"render_silhouette: class {class_id} drew an empty silhouette")
  crop = parts[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
  rows = ((np.arange(height) + 0.5) * crop.shape[0] / height).astype(np.int64)
  cols = ((np.arange(width) + 0.5) * crop.shape[1] / width).astype(np.int64)
  return crop[rows][:, cols]
