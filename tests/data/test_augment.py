"""Every augmentation on a tiny hand-made example with a known answer, eagerly and in tf.data."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from object_detection.core.fields import InputDataFields as F
from object_detection.data.augment import (
    color, crop_pad, crops, flips, jitter, labels, pads, patches, scale)
from object_detection.data import augment
from object_detection.data import synthetic

SEED = tf.constant([3, 7], tf.int64)


def _example(h=4, w=6, boxes=((0.0, 0.0, 0.5, 0.5), (0.5, 0.5, 1.0, 1.0))):
  """Image with unique pixel values, pixel-aligned boxes, masks filling the boxes."""
  image = np.arange(h * w * 3, dtype=np.float32).reshape([h, w, 3]) % 256
  boxes = np.asarray(boxes, np.float32).reshape([-1, 4])
  n = len(boxes)
  return {
      F.image: tf.constant(image),
      F.groundtruth_boxes: tf.constant(boxes),
      F.groundtruth_classes: tf.range(1, n + 1, dtype=tf.int32),
      F.groundtruth_weights: tf.ones([n]),
      F.groundtruth_instance_masks: tf.constant(synthetic.box_masks(boxes, h, w)),
  }


def both(op, tensor_dict, **params):
  """[eager result, tf.data result] of op(tensor_dict, SEED, **params), as NumPy dicts."""
  fn = functools.partial(op, seed=SEED, **params)
  eager = {k: v.numpy() for k, v in fn(tensor_dict).items()}
  ds = tf.data.Dataset.from_tensors(tensor_dict).map(lambda d: fn(d))
  data = {k: v.numpy() for k, v in next(iter(ds)).items()}
  for k in eager:
    np.testing.assert_allclose(eager[k], data[k], rtol=1e-5, atol=1e-4,
                               err_msg=f"eager vs tf.data differ for {k}")
  return [eager, data]


def test_horizontal_flip():
  ex = _example()
  for out in both(flips.random_horizontal_flip, ex, probability=1.0):
    np.testing.assert_array_equal(out[F.image], ex[F.image].numpy()[:, ::-1])
    np.testing.assert_allclose(out[F.groundtruth_boxes], [[0, 0.5, 0.5, 1.0], [0.5, 0, 1.0, 0.5]])
    np.testing.assert_array_equal(out[F.groundtruth_instance_masks],
                                  synthetic.box_masks(out[F.groundtruth_boxes], 4, 6))
  for out in both(flips.random_horizontal_flip, ex, probability=0.0):
    np.testing.assert_array_equal(out[F.image], ex[F.image].numpy())


def test_vertical_flip():
  ex = _example()
  for out in both(flips.random_vertical_flip, ex, probability=1.0):
    np.testing.assert_array_equal(out[F.image], ex[F.image].numpy()[::-1])
    np.testing.assert_allclose(out[F.groundtruth_boxes], [[0.5, 0, 1.0, 0.5], [0, 0.5, 0.5, 1.0]])
    np.testing.assert_array_equal(out[F.groundtruth_instance_masks],
                                  synthetic.box_masks(out[F.groundtruth_boxes], 4, 6))


def test_rotation90():
  ex = _example(boxes=((0.0, 0.0, 0.5, 1.0 / 3.0),))
  for out in both(flips.random_rotation90, ex, probability=1.0):
    np.testing.assert_array_equal(out[F.image], np.rot90(ex[F.image].numpy()))
    # ccw: [ymin, xmin, ymax, xmax] -> [1 - xmax, ymin, 1 - xmin, ymax]
    np.testing.assert_allclose(out[F.groundtruth_boxes], [[2.0 / 3.0, 0.0, 1.0, 0.5]], atol=1e-6)
    np.testing.assert_array_equal(out[F.groundtruth_instance_masks],
                                  synthetic.box_masks(out[F.groundtruth_boxes], 6, 4))


def test_color_ops_with_degenerate_ranges_have_exact_answers():
  ex = _example()
  image = ex[F.image].numpy()
  for out in both(color.random_adjust_brightness, ex, max_delta=0.0):
    np.testing.assert_allclose(out[F.image], image, atol=1e-3)
  for out in both(color.random_adjust_contrast, ex, min_delta=0.0, max_delta=0.0):
    np.testing.assert_allclose(out[F.image], np.broadcast_to(image.mean((0, 1)), image.shape),
                               rtol=1e-5)
  for out in both(color.random_adjust_saturation, ex, min_delta=0.0, max_delta=0.0):
    np.testing.assert_allclose(out[F.image][..., 0], out[F.image][..., 1], atol=1e-3)
    np.testing.assert_allclose(out[F.image][..., 1], out[F.image][..., 2], atol=1e-3)
  for out in both(color.random_pixel_value_scale, ex, minval=0.5, maxval=0.5):
    np.testing.assert_allclose(out[F.image], image * 0.5, rtol=1e-6)
  for out in both(color.random_rgb_to_gray, ex, probability=1.0):
    gray = image @ np.array([0.2989, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(out[F.image], np.repeat(gray[..., None], 3, -1), atol=0.05)


@pytest.mark.parametrize("op,params", [
    (color.random_adjust_brightness, {}), (color.random_adjust_contrast, {}),
    (color.random_adjust_hue, {}), (color.random_adjust_saturation, {}),
    (color.random_distort_color, {"color_ordering": 0}),
    (color.random_distort_color, {"color_ordering": 1}),
])
def test_color_ops_keep_range_and_geometry(op, params):
  ex = _example()
  ex[F.image] = ex[F.image] * 255.0 / 71.0  # spread the values over [0, 255]
  for out in both(op, ex, **params):
    assert out[F.image].shape == (4, 6, 3)
    assert out[F.image].min() >= 0.0 and out[F.image].max() <= 255.0
    np.testing.assert_array_equal(out[F.groundtruth_boxes], ex[F.groundtruth_boxes].numpy())
    np.testing.assert_array_equal(out[F.groundtruth_instance_masks],
                                  ex[F.groundtruth_instance_masks].numpy())


def test_brightness_is_a_bounded_uniform_shift():
  ex = _example()
  ex[F.image] = tf.fill([4, 6, 3], 100.0)
  out = both(color.random_adjust_brightness, ex, max_delta=0.2)[0][F.image]
  shift = out - 100.0
  assert np.ptp(shift) < 1e-3 and abs(shift[0, 0, 0]) <= 0.2 * 255 + 1e-3 and shift[0, 0, 0] != 0


def test_hue_keeps_gray_pixels():
  ex = _example()
  ex[F.image] = tf.fill([4, 6, 3], 90.0)
  for out in both(color.random_adjust_hue, ex, max_delta=0.5):
    np.testing.assert_allclose(out[F.image], 90.0, atol=1e-3)


def test_square_crop_inside_image():
  # 8x8 image, max_border 4 -> centre fixed at (4, 4); scale 0.5 -> a 4x4 crop at [2:6, 2:6].
  ex = _example(8, 8, boxes=((0.25, 0.25, 0.5, 0.5), (0.0, 0.0, 0.125, 0.125)))
  for out in both(crops.random_square_crop_by_scale, ex, max_border=4, scale_min=0.5,
                  scale_max=0.5, num_scales=1):
    np.testing.assert_array_equal(out[F.image], ex[F.image].numpy()[2:6, 2:6])
    # The second box is completely outside the crop: dropped with its class and mask.
    np.testing.assert_allclose(out[F.groundtruth_boxes], [[0.0, 0.0, 0.5, 0.5]])
    np.testing.assert_array_equal(out[F.groundtruth_classes], [1])
    np.testing.assert_array_equal(out[F.groundtruth_weights], [1.0])
    np.testing.assert_array_equal(out[F.groundtruth_instance_masks],
                                  ex[F.groundtruth_instance_masks].numpy()[:1, 2:6, 2:6])


def test_square_crop_with_padding_drops_last_row_and_column():
  # scale 1.5 -> a 12x12 crop centred at (4, 4): rows/cols -2..9; the image occupies 2..9
  # of the output, but (quirk, FEATURES §12.7) its last row/column (7) is not copied.
  ex = _example(8, 8, boxes=((0.0, 0.0, 1.0, 1.0),))
  for out in both(crops.random_square_crop_by_scale, ex, max_border=4, scale_min=1.5,
                  scale_max=1.5, num_scales=1):
    image = out[F.image]
    assert image.shape == (12, 12, 3)
    np.testing.assert_array_equal(image[2:9, 2:9], ex[F.image].numpy()[:7, :7])
    assert np.all(image[9:] == 0) and np.all(image[:, 9:] == 0) and np.all(image[:2] == 0)
    np.testing.assert_allclose(out[F.groundtruth_boxes], [[2 / 12, 2 / 12, 10 / 12, 10 / 12]],
                               atol=1e-6)
    mask = out[F.groundtruth_instance_masks][0]
    assert mask[2:9, 2:9].all() and mask.sum() == 49


def test_random_crop_image_full_area_is_identity():
  ex = _example(6, 6, boxes=((0.0, 0.0, 0.5, 0.5), (0.5, 0.5, 1.0, 1.0)))
  for out in both(crops.random_crop_image, ex, area_range=(1.0, 1.0),
                  aspect_ratio_range=(1.0, 1.0)):
    np.testing.assert_array_equal(out[F.image], ex[F.image].numpy())
    np.testing.assert_allclose(out[F.groundtruth_boxes], ex[F.groundtruth_boxes].numpy())


def test_random_crop_image_is_consistent():
  h = w = 16
  boxes = ((0.0, 0.0, 0.25, 0.25), (0.25, 0.25, 0.75, 0.75), (0.75, 0.5, 1.0, 1.0))
  ex = _example(h, w, boxes)
  ex[F.image] = tf.reshape(tf.range(h * w * 3, dtype=tf.float32), [h, w, 3])  # unique values
  for out in both(crops.random_crop_image, ex, min_object_covered=0.0, area_range=(0.2, 0.5),
                  overlap_thresh=0.3):
    image = out[F.image]
    y0, x0 = divmod(int(image[0, 0, 0]) // 3, w)
    ch, cw = image.shape[:2]
    assert (ch, cw) != (h, w)
    np.testing.assert_array_equal(image, ex[F.image].numpy()[y0:y0 + ch, x0:x0 + cw])
    window = np.array([y0 / h, x0 / w, (y0 + ch) / h, (x0 + cw) / w])
    scale_ = np.array([ch / h, cw / w, ch / h, cw / w])
    for box, cls, mask in zip(out[F.groundtruth_boxes], out[F.groundtruth_classes],
                              out[F.groundtruth_instance_masks]):
      expected = np.clip((np.array(boxes[cls - 1]) - window[[0, 1, 0, 1]]) / scale_, 0, 1)
      np.testing.assert_allclose(box, expected, atol=1e-5)
      np.testing.assert_array_equal(
          mask, ex[F.groundtruth_instance_masks].numpy()[cls - 1, y0:y0 + ch, x0:x0 + cw])


def test_scale_crop_and_pad_to_square():
  ex = _example(8, 4, boxes=((0.0, 0.0, 1.0, 1.0),))
  for out in both(crops.random_scale_crop_and_pad_to_square, ex, output_size=8, scale_min=1.0,
                  scale_max=1.0):
    assert out[F.image].shape == (8, 8, 3)
    np.testing.assert_allclose(out[F.image][:, :4], ex[F.image].numpy(), atol=1e-4)
    assert np.all(out[F.image][:, 4:] == 0)
    np.testing.assert_allclose(out[F.groundtruth_boxes], [[0.0, 0.0, 1.0, 0.5]])
    assert out[F.groundtruth_instance_masks][0, :, :4].all()
    assert not out[F.groundtruth_instance_masks][0, :, 4:].any()
  for out in both(crops.random_scale_crop_and_pad_to_square, ex, output_size=8, scale_min=2.0,
                  scale_max=2.0):
    assert out[F.image].shape == (8, 8, 3)  # a 16x8 image cropped to 8x8
    assert out[F.groundtruth_instance_masks].shape == (1, 8, 8)
    np.testing.assert_allclose(out[F.groundtruth_boxes][0, [1, 3]], [0.0, 1.0])


def test_pad_image_centered():
  ex = _example(4, 6, boxes=((0.0, 0.0, 1.0, 1.0),))
  for out in both(pads.random_pad_image, ex, min_image_size=(8, 10), max_image_size=(8, 10),
                  pad_color=(1.0, 2.0, 3.0), center_pad=True):
    image = out[F.image]
    assert image.shape == (8, 10, 3)
    np.testing.assert_array_equal(image[2:6, 2:8], ex[F.image].numpy())
    np.testing.assert_array_equal(image[0, 0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(out[F.groundtruth_boxes], [[2 / 8, 2 / 10, 6 / 8, 8 / 10]])
    assert out[F.groundtruth_instance_masks][0].sum() == 24
    assert out[F.groundtruth_instance_masks][0, 2:6, 2:8].all()


def test_pad_image_random_offset_consistent():
  ex = _example(4, 6, boxes=((0.0, 0.0, 1.0, 1.0),))
  for out in both(pads.random_pad_image, ex):
    image, masks, box = out[F.image], out[F.groundtruth_instance_masks], out[F.groundtruth_boxes]
    th, tw = image.shape[:2]
    assert 4 <= th <= 8 and 6 <= tw <= 12
    ys, xs = np.nonzero(masks[0])
    np.testing.assert_allclose(box[0], [ys.min() / th, xs.min() / tw, (ys.max() + 1) / th,
                                        (xs.max() + 1) / tw], atol=1e-6)


def test_image_scale():
  ex = _example(4, 6)
  for out in both(scale.random_image_scale, ex, min_scale_ratio=2.0, max_scale_ratio=2.0):
    assert out[F.image].shape == (8, 12, 3)
    assert out[F.groundtruth_instance_masks].shape == (2, 8, 12)
    np.testing.assert_array_equal(out[F.groundtruth_boxes], ex[F.groundtruth_boxes].numpy())
    np.testing.assert_allclose(out[F.image][0, 0], ex[F.image].numpy()[0, 0])
    np.testing.assert_allclose(out[F.image][-1, -1], ex[F.image].numpy()[-1, -1])


def test_jitter_boxes():
  ex = _example(boxes=((0.2, 0.2, 0.6, 0.6),))
  for out in both(jitter.random_jitter_boxes, ex, ratio=0.0):
    np.testing.assert_allclose(out[F.groundtruth_boxes], [[0.2, 0.2, 0.6, 0.6]], atol=1e-6)
  for mode in ("default", "expand", "shrink", "expand_symmetric", "shrink_symmetric_xy"):
    for out in both(jitter.random_jitter_boxes, ex, ratio=0.1, jitter_mode=mode):
      delta = out[F.groundtruth_boxes][0] - np.array([0.2, 0.2, 0.6, 0.6])
      assert np.all(np.abs(delta) <= 0.1 * 0.4 / 2 + 1e-6), mode
      np.testing.assert_array_equal(out[F.image], ex[F.image].numpy())
      if mode.startswith("expand"):
        assert delta[0] <= 1e-7 and delta[2] >= -1e-7
      if mode.startswith("shrink"):
        assert delta[0] >= -1e-7 and delta[2] <= 1e-7


ALL_OPS = [
    (flips.random_horizontal_flip, {}), (flips.random_vertical_flip, {}),
    (flips.random_rotation90, {}), (color.random_adjust_brightness, {}),
    (color.random_adjust_contrast, {}), (color.random_adjust_hue, {}),
    (color.random_adjust_saturation, {}), (color.random_distort_color, {}),
    (color.random_rgb_to_gray, {}), (color.random_pixel_value_scale, {}),
    (crops.random_square_crop_by_scale, {}), (crops.random_crop_image, {}),
    (crops.random_scale_crop_and_pad_to_square, {"output_size": 8}),
    (pads.random_pad_image, {}), (scale.random_image_scale, {}),
    (jitter.random_jitter_boxes, {}), (crop_pad.random_crop_to_aspect_ratio, {}),
    (crop_pad.random_crop_pad_image, {}),
    (pads.random_absolute_pad_image, {"max_height_padding": 4, "max_width_padding": 4}),
    (patches.adjust_gamma, {"gamma": 2.0}), (patches.random_black_patches, {}),
    (patches.random_jpeg_quality, {}), (labels.remap_labels, {"original_labels": (1,)}),
    (labels.drop_label_probabilistically, {"label": 1}),
    (scale.resize_image, {"new_height": 4, "new_width": 6}),
    (scale.random_resize_method, {"target_height": 4, "target_width": 6}),
]


@pytest.mark.parametrize("op,params", ALL_OPS, ids=[op.__name__ for op, _ in ALL_OPS])
def test_zero_boxes_and_determinism(op, params):
  ex = _example(8, 8, boxes=np.zeros([0, 4], np.float32))
  first, _ = both(op, ex, **params)
  assert first[F.groundtruth_boxes].shape == (0, 4)
  assert first[F.groundtruth_instance_masks].shape[0] == 0
  assert first[F.groundtruth_instance_masks].shape[1:] == first[F.image].shape[:2]
  again = {k: v.numpy() for k, v in op(ex, SEED, **params).items()}
  for k in first:
    np.testing.assert_array_equal(first[k], again[k])


def test_compose_uses_independent_seeds():
  ex = _example()
  fn = augment.compose([functools.partial(flips.random_horizontal_flip, probability=1.0),
                        functools.partial(flips.random_horizontal_flip, probability=1.0)])
  out = fn(ex, SEED)
  np.testing.assert_array_equal(out[F.image].numpy(), ex[F.image].numpy())  # flipped twice


def test_crop_to_aspect_ratio():
  ex = _example(4, 8)
  for out in both(crop_pad.random_crop_to_aspect_ratio, ex, aspect_ratio=2.0):
    np.testing.assert_array_equal(out[F.image], ex[F.image].numpy())  # already 2:1
  ex = _example(4, 8, boxes=((0.0, 0.0, 1.0, 0.25), (0.0, 0.75, 1.0, 1.0)))
  ex[F.image] = tf.reshape(tf.range(4 * 8 * 3, dtype=tf.float32), [4, 8, 3])
  for out in both(crop_pad.random_crop_to_aspect_ratio, ex, aspect_ratio=1.0,
                  overlap_thresh=0.5):
    assert out[F.image].shape == (4, 4, 3)
    x0 = int(out[F.image][0, 0, 0]) // 3
    np.testing.assert_array_equal(out[F.image], ex[F.image].numpy()[:, x0:x0 + 4])
    kept = [int(c) for c in out[F.groundtruth_classes]]
    # Box 1 covers columns 0-1, box 2 columns 6-7: kept when >= half of it is in the crop.
    assert kept == [c for c, (a, b) in ((1, (0, 2)), (2, (6, 8)))
                    if max(0, min(b, x0 + 4) - max(a, x0)) >= 1]
    for box, c in zip(out[F.groundtruth_boxes], kept):
      a, b = ((0, 2), (6, 8))[c - 1]
      np.testing.assert_allclose(box, [0, max(a - x0, 0) / 4, 1, min(b - x0, 4) / 4], atol=1e-6)


def test_crop_pad_image_and_absolute_pad():
  ex = _example(4, 4, boxes=((0.0, 0.0, 1.0, 1.0),))
  for out in both(crop_pad.random_crop_pad_image, ex, area_range=(1.0, 1.0),
                  aspect_ratio_range=(1.0, 1.0), min_padded_size_ratio=(2.0, 2.0),
                  max_padded_size_ratio=(2.0, 2.0), pad_color=(0.0, 0.0, 0.0)):
    assert out[F.image].shape == (8, 8, 3)
    ys, xs = np.nonzero(out[F.groundtruth_instance_masks][0])
    y0, x0 = ys.min(), xs.min()
    np.testing.assert_array_equal(out[F.image][y0:y0 + 4, x0:x0 + 4], ex[F.image].numpy())
    np.testing.assert_allclose(out[F.groundtruth_boxes][0],
                               [y0 / 8, x0 / 8, (y0 + 4) / 8, (x0 + 4) / 8])
  for out in both(pads.random_absolute_pad_image, ex, max_height_padding=0, max_width_padding=0):
    np.testing.assert_array_equal(out[F.image], ex[F.image].numpy())
  for out in both(pads.random_absolute_pad_image, ex, max_height_padding=3, max_width_padding=3):
    assert 4 <= out[F.image].shape[0] < 7 and 4 <= out[F.image].shape[1] < 7


def test_gamma_gray_patches_jpeg():
  ex = _example()
  image = ex[F.image].numpy()
  for out in both(patches.adjust_gamma, ex, gamma=2.0, gain=1.0):
    np.testing.assert_allclose(out[F.image], 255.0 * (image / 255.0) ** 2, rtol=1e-5, atol=1e-4)
  for out in both(patches.rgb_to_gray, ex):
    assert out[F.image].shape == (4, 6, 1)
  ex8 = _example(8, 8)
  ex8[F.image] = tf.fill([8, 8, 3], 50.0)
  for out in both(patches.random_black_patches, ex8, max_black_patches=3, probability=1.0,
                  size_to_image_ratio=0.5):
    black = (out[F.image][..., 0] == 0)
    assert 16 <= black.sum() <= 48 and set(np.unique(out[F.image])) <= {0.0, 50.0}
  for out in both(patches.random_black_patches, ex8, probability=0.0):
    np.testing.assert_array_equal(out[F.image], ex8[F.image].numpy())
  for out in both(patches.random_jpeg_quality, ex8, random_coef=1.0):
    np.testing.assert_array_equal(out[F.image], ex8[F.image].numpy())
  for out in both(patches.random_jpeg_quality, ex8, min_jpeg_quality=95, max_jpeg_quality=95):
    np.testing.assert_allclose(out[F.image], 50.0, atol=2.0)


def test_label_ops():
  ex = _example(boxes=((0, 0, 0.5, 0.5), (0.5, 0.5, 1, 1), (0, 0.5, 0.5, 1)))
  for out in both(labels.remap_labels, ex, original_labels=(1, 3), new_label=5):
    np.testing.assert_array_equal(out[F.groundtruth_classes], [5, 2, 5])
  for out in both(labels.drop_label_probabilistically, ex, label=2, drop_probability=1.0):
    np.testing.assert_array_equal(out[F.groundtruth_classes], [1, 3])
    np.testing.assert_array_equal(out[F.groundtruth_instance_masks],
                                  ex[F.groundtruth_instance_masks].numpy()[[0, 2]])
  for out in both(labels.drop_label_probabilistically, ex, label=2, drop_probability=0.0):
    np.testing.assert_array_equal(out[F.groundtruth_classes], [1, 2, 3])


def test_resize_image_and_random_resize_method():
  ex = _example(4, 6)
  for out in both(scale.resize_image, ex, new_height=8, new_width=12, method="nearest"):
    np.testing.assert_array_equal(out[F.image], np.repeat(np.repeat(ex[F.image].numpy(), 2, 0),
                                                          2, 1))
    np.testing.assert_array_equal(out[F.groundtruth_instance_masks],
                                  synthetic.box_masks(ex[F.groundtruth_boxes].numpy(), 8, 12))
  for out in both(scale.random_resize_method, ex, target_height=8, target_width=12):
    assert out[F.image].shape == (8, 12, 3)
    np.testing.assert_array_equal(out[F.groundtruth_instance_masks],
                                  synthetic.box_masks(ex[F.groundtruth_boxes].numpy(), 8, 12))
