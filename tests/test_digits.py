"""The digits shipped in odn_jax/data/digits.npz are scikit-learn's, split as before.

  python tests/test_digits.py   # writes digits.npz again from scikit-learn
"""

import numpy as np
import pytest

from odn_jax.data import sources


def sklearn_split():
  """scikit-learn's 1,797 8x8 digits, pixels scaled to 0..255, fixed stratified 60/20/20."""
  from sklearn import datasets, model_selection  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  labels = digits.target.astype(np.int32)
  split = lambda x, y, size: model_selection.train_test_split(
      x, y, test_size=size, stratify=y, random_state=0)
  x_rest, x_test, y_rest, y_test = split(images, labels, 0.2)
  x_train, x_val, y_train, y_val = split(x_rest, y_rest, 0.25)
  return {'train': (x_train, y_train), 'validation': (x_val, y_val), 'test': (x_test, y_test)}


def test_shipped_digits_equal_scikit_learns_split():
  pytest.importorskip('sklearn')
  shipped, expected = sources._digits(), sklearn_split()  # pylint: disable=protected-access
  assert list(shipped) == list(expected)
  for split, (images, labels) in expected.items():
    np.testing.assert_array_equal(shipped[split][0], images)
    np.testing.assert_array_equal(shipped[split][1], labels)
    assert (shipped[split][0].dtype, shipped[split][1].dtype) == (np.uint8, np.int32)
  assert [len(v[1]) for v in shipped.values()] == [1077, 360, 360]


if __name__ == '__main__':
  arrays = {f'{k}_{split}': v for split, pair in sklearn_split().items()
            for k, v in zip(('x', 'y'), pair)}
  np.savez_compressed(sources.DIGITS_FILE, **arrays)
  print(f'wrote {sources.DIGITS_FILE}')
