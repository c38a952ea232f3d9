"""(Runs under the ORIGINAL's venv.) The original's SavedModel outputs on NON-square images.

    python benchmarks/reference/ref_nonsquare_outputs.py FIXTURE_DIR OUT.npz

Crops two of the fixture's 128x128 images to 128x80 (tall) and 72x128 (wide), runs the
fixture's saved_model/ (exported by the original) on each and stores the images (`image_0`,
`image_1`) and every serving output (`<key>_0`, `<key>_1`). These pin what the original does on
padded inputs (tests/conversion/test_deviations.py): its CenterNet peaks may fall in the padding.
"""

import sys

import numpy as np
import tensorflow as tf


def main():
  fixture, out = sys.argv[1:3]
  images = np.load(f"{fixture}/expected_outputs.npz")["images"]
  crops = [images[0][:, 24:104], images[1][28:100, :]]
  serve = tf.saved_model.load(f"{fixture}/saved_model").signatures["serving_default"]
  arrays = {}
  for i, crop in enumerate(crops):
    arrays[f"image_{i}"] = np.ascontiguousarray(crop)
    for key, value in serve(input_tensor=tf.constant(crop[None])).items():
      arrays[f"{key}_{i}"] = value.numpy()[0]
  np.savez_compressed(out, **arrays)
  print({k: v.shape for k, v in arrays.items()})


if __name__ == "__main__":
  main()
