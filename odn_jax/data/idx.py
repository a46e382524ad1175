"""The MNIST family's IDX format: a magic number, the dimensions, then raw uint8 values.

A source is a folder (or a .zip archive, such as NIST's EMNIST `gzip.zip`) holding one
training and one test pair of images and labels, plain or gzipped, named either the
MNIST way (`train-images-idx3-ubyte`, `t10k-images-idx3-ubyte`, ...) or the EMNIST way
(`emnist-letters-train-images-idx3-ubyte.gz`, `emnist-letters-test-images-idx3-ubyte.gz`, ...).
"""

import gzip
import os
import zlib
import zipfile

import numpy as np

from odn_jax.data.errors import DataError

# File stems of the four files in the MNIST / Fashion-MNIST distributions.
IDX_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
# What an images file's name ends with, per split; EMNIST calls its test split 'test'.
IMAGE_SUFFIXES = {'train': ('train-images-idx3-ubyte',),
                  'test': ('t10k-images-idx3-ubyte', 'test-images-idx3-ubyte')}


def _parse(raw: bytes, name: str) -> np.ndarray:
  if raw[:2] == b'\x1f\x8b':
    try:
      raw = gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:  # cut short, or damaged
      raise DataError(f'{name} is a damaged gzip file ({e}); download or copy it again') from None
  if len(raw) < 4 or raw[0:2] != b'\x00\x00' or raw[2] != 0x08:
    raise DataError(f'{name} is not an IDX file of unsigned bytes (magic 0x0000 08 nn)')
  ndim = raw[3]
  shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
  data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
  if data.size != int(np.prod(shape)):
    raise DataError(f'{name}: header says shape {shape} but holds {data.size} values')
  return data.reshape(shape)


def read_idx(path: str) -> np.ndarray:
  """The array in an IDX file, gzipped or not."""
  with open(path, 'rb') as f:
    return _parse(f.read(), path)


def _image_files(names, split: str) -> list[str]:
  return sorted(n for n in names
                if n.removesuffix('.gz').endswith(IMAGE_SUFFIXES[split]))


def _labels_name(images_name: str, names) -> str | None:
  stem = images_name.removesuffix('.gz').replace('-images-idx3-', '-labels-idx1-')
  return next((n for n in (stem, stem + '.gz') if n in names), None)


def _pick(candidates: list[str], split: str, where: str, name: str) -> str:
  """The one images file of `split`; among several (NIST's archive holds every EMNIST
  split), the one whose base name starts with config.data.name, '/' read as '-'."""
  if len(candidates) == 1:
    return candidates[0]
  prefix = name.replace('/', '-') + '-'
  chosen = [c for c in candidates if os.path.basename(c).startswith(prefix)]
  if len(chosen) == 1:
    return chosen[0]
  if not candidates:
    raise DataError(f'{where} has no {split} images file (a name ending in '
                    f'{" or ".join(IMAGE_SUFFIXES[split])}[.gz]); an IDX source holds the '
                    f'files {", ".join(s for pair in IDX_FILES.values() for s in pair)} or '
                    'their EMNIST names (emnist-letters-train-images-idx3-ubyte.gz, ...)')
  raise DataError(f'{where} holds several {split} images files '
                  f'({", ".join(os.path.basename(c) for c in candidates)}); choose one with '
                  f'config.data.name (e.g. --config.data.name=emnist/letters picks '
                  'emnist-letters-*)')


def load_folder(folder: str, name: str = '') -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{'train': (images, labels), 'test': (images, labels)} from an IDX folder or .zip."""
  if os.path.isfile(folder) and zipfile.is_zipfile(folder):
    try:
      with zipfile.ZipFile(folder) as archive:
        names = [n for n in archive.namelist() if not n.endswith('/')]
        return _load(names, folder, name, lambda n: archive.read(n))
    except (zipfile.BadZipFile, EOFError, zlib.error) as e:
      raise DataError(f'{folder} is a damaged .zip archive ({e}); download it again') from None
  if os.path.isfile(folder):
    raise DataError(f'{folder!r} is a file but not a readable .zip archive (damaged, or '
                    'another format); set config.data.path to a folder (or .zip) holding the '
                    'four MNIST-format files')
  if not os.path.isdir(folder):
    raise DataError(f'IDX folder {folder!r} does not exist; set config.data.path to a folder '
                    '(or .zip) holding the four MNIST-format files')

  def read(n):
    with open(os.path.join(folder, n), 'rb') as f:
      return f.read()

  return _load(os.listdir(folder), folder, name, read)


def _load(names, where, name, read):
  splits = {}
  for split in IDX_FILES:
    images = _pick(_image_files(names, split), split, where, name)
    labels = _labels_name(images, set(names))
    if labels is None:
      raise DataError(f'{where} has {images} but no labels file beside it '
                      f'({images.removesuffix(".gz").replace("-images-idx3-", "-labels-idx1-")}'
                      '[.gz])')
    splits[split] = (_parse(read(images), os.path.join(where, images)),
                     _parse(read(labels), os.path.join(where, labels)))
  return splits
