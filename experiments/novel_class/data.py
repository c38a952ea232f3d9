"""Deterministic cluttered scenes of textured, occluding objects (generated at run time).

    ds = make_dataset(seed=0, split="train", num_images=1500, image_size=128, max_objects=5)
    ds.images [N, S, S, 3] uint8; ds.boxes [N, K, 4] float32 normalized [ymin, xmin, ymax, xmax]
    ds.classes [N, K] int32 1-based (0 = padding); ds.masks [N, K, S, S] uint8 visible masks

Scene: a textured background, 2-4 large textured "stuff" polygons and 8-20 small clutter items
(lines, specks) that are not objects, then 2..max_objects objects drawn in order (later ones
occlude earlier ones). Each object part gets its own texture, drawn from one class-independent
distribution (noise, stripes, checker, dots, gradient; random colours, periods, angles), so the
texture says nothing about the class and compound objects are made of differently textured
parts. Masks and boxes are of the VISIBLE part; objects less than 40 % visible (or under 40
pixels at 128 x 128) are dropped. Image i of a split uses its own generator seeded by
(seed, split, i), so any prefix of a split is the same whatever the size asked for.
"""

import dataclasses

import numpy as np

from experiments.novel_class import shapes

_SPLITS = {"train": 0, "val": 1}


@dataclasses.dataclass
class Dataset:
  images: np.ndarray
  boxes: np.ndarray
  classes: np.ndarray
  masks: np.ndarray

  def __len__(self):
    return self.images.shape[0]

  def subset(self, indices):
    return Dataset(self.images[indices], self.boxes[indices], self.classes[indices],
                   self.masks[indices])


def _colour(rng):
  return rng.uniform(0, 255, 3)


def texture(rng, height, width):
  """[height, width, 3] float32 texture in [0, 255] of a random pattern type."""
  yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
  a, b = _colour(rng), _colour(rng)
  kind = rng.integers(5)
  angle = rng.uniform(0, np.pi)
  u = yy * np.cos(angle) + xx * np.sin(angle)
  v = -yy * np.sin(angle) + xx * np.cos(angle)
  period = rng.uniform(3, 9)
  if kind == 0:      # noisy flat colour
    t = np.zeros([height, width, 1], np.float32)
  elif kind == 1:    # stripes
    t = (np.floor(u / period) % 2)[..., None]
  elif kind == 2:    # checker
    t = ((np.floor(u / period) + np.floor(v / period)) % 2)[..., None]
  elif kind == 3:    # dots
    t = (((u % period) - period / 2) ** 2 + ((v % period) - period / 2) ** 2
         <= (period * rng.uniform(0.2, 0.35)) ** 2)[..., None].astype(np.float32)
  else:              # gradient
    t = ((u - u.min()) / max(float(np.ptp(u)), 1.0))[..., None]
  out = a * (1.0 - t) + b * t
  out += rng.normal(0, rng.uniform(3, 20), [height, width, 3])
  return out.astype(np.float32)


def _stuff_polygon(rng, size):
  """[size, size] bool: a large random convex-ish polygon somewhere in the image."""
  from PIL import Image, ImageDraw  # pylint: disable=import-outside-toplevel
  k = int(rng.integers(3, 7))
  cy, cx = rng.uniform(0, size, 2)
  r = rng.uniform(0.25, 0.6) * size
  angles = np.sort(rng.uniform(0, 2 * np.pi, k))
  radii = r * rng.uniform(0.6, 1.0, k)
  pts = [(cx + q * np.cos(t), cy + q * np.sin(t)) for q, t in zip(radii, angles)]
  image = Image.new("L", (size, size))
  ImageDraw.Draw(image).polygon(pts, fill=255)
  return np.asarray(image) > 127


def _clutter_item(rng, size):
  """[size, size] bool: a line or a small speck (not an object)."""
  from PIL import Image, ImageDraw  # pylint: disable=import-outside-toplevel
  image = Image.new("L", (size, size))
  draw = ImageDraw.Draw(image)
  if rng.uniform() < 0.5:
    x0, y0 = rng.uniform(0, size, 2)
    length = rng.uniform(0.1, 0.5) * size
    t = rng.uniform(0, 2 * np.pi)
    draw.line([(x0, y0), (x0 + length * np.cos(t), y0 + length * np.sin(t))], fill=255,
              width=int(rng.integers(1, 4)))
  else:
    x0, y0 = rng.uniform(0, size, 2)
    w, h = rng.uniform(2, 9, 2)
    draw.ellipse([x0, y0, x0 + w, y0 + h], fill=255)
  return np.asarray(image) > 127


def _paint(image, region, rng):
  """Fills `region` ([S, S] bool) of `image` with a new texture (computed on its box only)."""
  ys, xs = np.nonzero(region)
  if ys.size == 0:
    return
  y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
  window = region[y0:y1, x0:x1]
  image[y0:y1, x0:x1][window] = texture(rng, y1 - y0, x1 - x0)[window]


def make_scene(rng, image_size, max_objects):
  """One image: ([S, S, 3] uint8, boxes [n, 4] normalized, classes [n] 1-based, masks [n, S, S]).

  Objects' longer sides are uniform in [S / 4, S * 11/16] (32..88 pixels at S = 128).
  """
  size = image_size
  min_size, max_size = size / 4, size * 11 / 16
  image = texture(rng, size, size)
  for _ in range(int(rng.integers(2, 5))):
    _paint(image, _stuff_polygon(rng, size), rng)
  for _ in range(int(rng.integers(8, 21))):
    _paint(image, _clutter_item(rng, size), rng)
  masks, full_areas, classes = [], [], []
  for _ in range(int(rng.integers(2, max_objects + 1))):
    class_id = int(rng.integers(1, len(shapes.CLASSES) + 1))
    longer = rng.uniform(min_size, max_size)
    aspect = np.exp(rng.uniform(np.log(0.6), np.log(1.6)))
    h = int(np.clip(round(longer * min(1.0, 1.0 / aspect)), 8, size))
    w = int(np.clip(round(longer * min(1.0, aspect)), 8, size))
    parts = shapes.render_silhouette(class_id, rng, h, w)
    y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
    full = np.zeros([size, size], bool)
    for p in range(1, int(parts.max()) + 1):
      part = np.zeros([size, size], bool)
      part[y:y + h, x:x + w] = parts == p
      _paint(image, part, rng)
      full |= part
    masks = [m & ~full for m in masks]
    masks.append(full)
    full_areas.append(full.sum())
    classes.append(class_id)
  image = np.clip(image, 0, 255).astype(np.uint8)
  min_area = 40 * (size / 128) ** 2
  keep = [i for i, m in enumerate(masks) if m.sum() >= max(min_area, 0.4 * full_areas[i])]
  boxes = []
  for i in keep:
    ys, xs = np.nonzero(masks[i])
    boxes.append([ys.min() / size, xs.min() / size, (ys.max() + 1) / size, (xs.max() + 1) / size])
  return (image, np.array(boxes, np.float32).reshape(-1, 4),
          np.array([classes[i] for i in keep], np.int32),
          np.array([masks[i] for i in keep], np.uint8).reshape(-1, size, size))


def make_dataset(seed, split, num_images, image_size=128, max_objects=5):
  """`num_images` scenes of `split` ("train" or "val"), padded to `max_objects` instances."""
  if split not in _SPLITS:
    raise ValueError(f"make_dataset: unknown split (got {split!r}; expected one of "
                     f"{sorted(_SPLITS)})")
  n, s, k = num_images, image_size, max_objects
  out = Dataset(np.zeros([n, s, s, 3], np.uint8), np.zeros([n, k, 4], np.float32),
                np.zeros([n, k], np.int32), np.zeros([n, k, s, s], np.uint8))
  for i in range(n):
    rng = np.random.default_rng([seed, _SPLITS[split], i])
    image, boxes, classes, masks = make_scene(rng, s, max_objects)
    m = len(classes)
    out.images[i], out.boxes[i, :m], out.classes[i, :m], out.masks[i, :m] = (
        image, boxes, classes, masks)
  return out
