"""The MNIST family's IDX format: a magic number, the dimensions, then raw uint8 values."""

import gzip
import os

import numpy as np

from odn_jax.data.errors import DataError

# File stems of the four files in the MNIST / Fashion-MNIST / EMNIST distributions.
IDX_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def _open(path):
  with open(path, 'rb') as f:
    gzipped = f.read(2) == b'\x1f\x8b'
  return gzip.open(path, 'rb') if gzipped else open(path, 'rb')


def read_idx(path: str) -> np.ndarray:
  with _open(path) as f:
    raw = f.read()
  if len(raw) < 4 or raw[0:2] != b'\x00\x00' or raw[2] != 0x08:
    raise DataError(f'{path} is not an IDX file of unsigned bytes (magic 0x0000 08 nn)')
  ndim = raw[3]
  shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
  data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
  if data.size != int(np.prod(shape)):
    raise DataError(f'{path}: header says shape {shape} but holds {data.size} values')
  return data.reshape(shape)


def write_idx(path: str, array: np.ndarray):
  """Writes a uint8 array as IDX (gzipped if `path` ends in .gz); for tests and exports."""
  array = np.asarray(array, np.uint8)
  header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
      int(n).to_bytes(4, 'big') for n in array.shape)
  opener = gzip.open if path.endswith('.gz') else open
  with opener(path, 'wb') as f:
    f.write(header + array.tobytes())


def find(folder: str, stem: str) -> str:
  for name in (stem, stem + '.gz'):
    if os.path.exists(os.path.join(folder, name)):
      return os.path.join(folder, name)
  raise DataError(f'{folder} has no {stem}[.gz]; an IDX folder holds '
                  f'{", ".join(s for pair in IDX_FILES.values() for s in pair)} (optionally .gz)')


def load_folder(folder: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{'train': (images, labels), 'test': (images, labels)} from an IDX folder."""
  if not os.path.isdir(folder):
    raise DataError(f'IDX folder {folder!r} does not exist; set config.data.path to a folder '
                    'holding the four MNIST-format files')
  return {split: (read_idx(find(folder, images)), read_idx(find(folder, labels)))
          for split, (images, labels) in IDX_FILES.items()}
