"""Helpers the tests share that the library does not need."""

import gzip
from typing import Sequence

import numpy as np

from odn_jax import search


def next_plan(history: Sequence[dict], config, sizes: Sequence[dict] | None = None
              ) -> search.Plan:
  """The controller: where the search goes after the last epoch of `history`."""
  return search.replay(history, config, sizes).plan


def write_idx(path: str, array: np.ndarray):
  """Writes a uint8 array as IDX (gzipped if `path` ends in .gz), as the MNIST files are."""
  array = np.asarray(array, np.uint8)
  header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
      int(n).to_bytes(4, 'big') for n in array.shape)
  opener = gzip.open if path.endswith('.gz') else open
  with opener(path, 'wb') as f:
    f.write(header + array.tobytes())
