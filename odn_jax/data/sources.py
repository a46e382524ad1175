"""Where examples come from: TFDS, a folder of IDX files, an .npz file, or the embedded digits.

Every source ends as the same thing: {'train', 'validation', 'test'} -> (images uint8
[N, H, W, C], labels int32 [N]), held in memory (the paper's datasets are all under
300 MB as uint8), checked once here so the pipeline can trust it.
"""

import os
import socket
from typing import NamedTuple
import urllib.parse
import zipfile
import zlib

import numpy as np

from odn_jax.data import checks, idx
from odn_jax.data.errors import DataError

SOURCES = ('tfds', 'idx', 'npz', 'digits')
SPLITS = ('train', 'validation', 'test')
DIGITS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'digits.npz')


def read(data_config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """The source's own splits ('train', 'test', and 'validation' where it has one), checked."""
  source = data_config.source
  if source not in SOURCES:
    raise DataError(f'config.data.source must be one of {SOURCES}, got {source!r}')
  read_source = {'digits': _digits, 'tfds': lambda: _tfds(data_config),
                 'idx': lambda: idx.load_folder(data_config.path, data_config.name),
                 'npz': lambda: _npz(data_config.path)}
  splits = {k: check_split(k, *v, data_config.num_classes, data_config.label_offset, source)
            for k, v in read_source[source]().items()}
  mismatch = checks.consistency(splits)
  if mismatch:
    raise DataError(f'{source} data {data_config.name!r}: {mismatch}')
  channels = {v[0].shape[-1] for v in splits.values()}
  if len(data_config.mean) not in channels or len(data_config.std) not in channels:
    raise DataError(f'config.data.mean/std have {len(data_config.mean)}/{len(data_config.std)}'
                    f' values but the images have {channels.pop()} channels; give one per channel')
  return splits


def class_names(data_config) -> list[str] | None:
  """The name of every class, where the source has them: TFDS's `features['label'].names`,
  '0'..'9' for the digits; None otherwise (IDX and npz files carry no names)."""
  if data_config.source == 'digits':
    return [str(i) for i in range(10)]
  if data_config.source != 'tfds':
    return None
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:  # the prepared dataset's info: read from its data_dir, nothing downloaded
    label = tfds.builder(data_config.name, data_dir=data_config.data_dir).info.features['label']
    names = list(label.names)
  except Exception:  # pylint: disable=broad-except  # no label feature, or no names: indices
    return None
  # Class i is the source's label i - label_offset.
  source_labels = [i - data_config.label_offset for i in range(data_config.num_classes)]
  if not all(0 <= j < len(names) for j in source_labels):
    return None  # the config's classes do not line up with the names
  return [names[j] for j in source_labels]


class Cut(NamedTuple):
  """What is taken from the source's training split by position."""
  text: str  # in words, for messages
  smallest: int  # examples in the smallest piece


def positional_cut(splits, data_config) -> Cut | None:
  """What `cut` takes from the source's training split by position; None when nothing is
  (the source has its own validation split and no subset is asked for) or when
  config.data.split_seed shuffles the training split first."""
  if data_config.get('split_seed') is not None:
    return None
  n = len(splits['train'][1])
  parts, pieces = [], []
  if 'validation' not in splits:
    num_val = data_config.num_val or n - data_config.num_train
    parts.append(f'train (num_train={data_config.num_train:,}) and validation (num_val='
                 f'{num_val:,}) are cut from it')
    pieces += [data_config.num_train, num_val]
  if data_config.train_subset and data_config.train_subset < n:
    parts.append(f'train_subset={data_config.train_subset:,} takes its head')
    pieces.append(data_config.train_subset)
  return Cut(' and '.join(parts), min(pieces)) if parts else None


def cut(splits, data_config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{'train', 'validation', 'test'}: validation cut from train unless the source has one,
  train shortened to config.data.train_subset; all by position, after shuffling the
  training split with config.data.split_seed when it is set."""
  seed = data_config.get('split_seed')
  if seed is not None:  # fixed by the seed alone: every host and every resume cut alike
    images, labels = splits['train']
    order = np.random.default_rng(seed).permutation(len(labels))
    splits = {**splits, 'train': (images[order], labels[order])}
  splits = dict(_split_validation(splits, data_config))  # a new dict: `splits` stays whole
  if data_config.train_subset:
    images, labels = splits['train']
    splits['train'] = images[:data_config.train_subset], labels[:data_config.train_subset]
  return splits


def load_splits(data_config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """The three splits `config.data` describes, without the checks of odn_jax.data.load."""
  return cut(read(data_config), data_config)


def check_split(split, images, labels, num_classes, label_offset=0, source=''):
  """uint8 [N, H, W, C] images and int32 labels in 0..num_classes-1, or a DataError."""
  images, labels = np.asarray(images), np.asarray(labels)
  where = f'{source} {split} split'
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise DataError(f'{where}: images have shape {images.shape}; expected [N, H, W] or '
                    '[N, H, W, C] with C = 1 or 3')
  if images.dtype != np.uint8:
    raise DataError(f'{where}: images are {images.dtype}; expected uint8 pixels in 0..255')
  if labels.ndim != 1 or len(labels) != len(images):
    raise DataError(f'{where}: {len(images)} images but labels of shape {labels.shape}; '
                    'expected one integer label per image')
  if not np.issubdtype(labels.dtype, np.integer):
    raise DataError(f'{where}: labels are {labels.dtype}; expected integers')
  labels = labels.astype(np.int32) + label_offset
  if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
    raise DataError(f'{where}: labels (after offset {label_offset}) span {labels.min()}..'
                    f'{labels.max()}; expected 0..{num_classes - 1} '
                    '(set config.data.num_classes / label_offset)')
  return images, labels


def _split_validation(splits, data_config):
  """The paper's split: train = first num_train, validation = the next num_val."""
  if 'validation' in splits:
    return splits
  images, labels = splits['train']
  n_train = data_config.num_train
  n_val = data_config.num_val or len(labels) - n_train
  if n_train < 1 or n_train + n_val > len(labels) or n_val < 1:
    raise DataError(f'config.data.num_train={data_config.num_train} and num_val='
                    f'{data_config.num_val} do not fit the {len(labels)} training examples')
  return {'train': (images[:n_train], labels[:n_train]),
          'validation': (images[n_train:n_train + n_val], labels[n_train:n_train + n_val]),
          'test': splits['test']}


def _npz(path):
  if not os.path.isfile(path):
    raise DataError(f'npz file {path!r} does not exist; set config.data.path')
  with open(path, 'rb') as f:
    head = f.read(6)
  try:
    if head[:4] != b'PK\x03\x04':  # an .npz is a zip archive of .npy files
      raise ValueError('empty' if not head else 'a single .npy array' if head == b'\x93NUMPY'
                       else 'not a zip archive of .npy arrays')
    return _read_npz(path)
  except DataError:
    raise
  except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
    # Cut short, damaged, or holding Python objects (which np.load refuses to unpickle).
    why = 'it holds Python objects' if 'allow_pickle' in str(e) else str(e) or type(e).__name__
    raise DataError(f'{path} is not a readable .npz of arrays ({why[:120]}); write it with '
                    'numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...) '
                    'from uint8 images and integer labels') from None


def _read_npz(path):
  with np.load(path) as f:
    missing = {'x_train', 'y_train', 'x_test', 'y_test'} - set(f.files)
    if missing:
      raise DataError(f'{path} lacks {sorted(missing)}; an npz source holds x_train, y_train, '
                      'x_test, y_test and optionally x_val, y_val')
    splits = {'train': (f['x_train'], f['y_train']), 'test': (f['x_test'], f['y_test'])}
    if 'x_val' in f.files and 'y_val' in f.files:
      splits['validation'] = (f['x_val'], f['y_val'])
  return splits


def _digits():
  """scikit-learn's 1,797 real 8x8 digits: a fixed stratified 60/20/20 split (random_state 0),
  shipped as digits.npz (tests/test_digits.py writes it from scikit-learn and checks it)."""
  with np.load(DIGITS_FILE) as f:
    return {split: (f[f'x_{split}'], f[f'y_{split}']) for split in SPLITS}


def _import_command(data_config) -> str:
  return (f'python launch/import_data.py --dataset={data_config.name} '
          '--source_dir=DIR_WITH_ORIGINAL_FILES'
          + (f' --data_dir={data_config.data_dir}' if data_config.data_dir else ''))


def _first_line(e: Exception) -> str:
  line = next((l.strip() for l in str(e).splitlines() if l.strip()), '')
  line = line if len(line) <= 160 else line[:157] + '...'
  return type(e).__name__ + (f': {line}' if line else '')


PROXY_VARIABLES = ('https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'all_proxy',
                   'ALL_PROXY')


def unresolvable_host(urls) -> str | None:
  """The first host among `urls` whose name does not resolve, or None. Offline, TFDS would
  retry every download with backoff for about 3.5 minutes before failing; this fails at
  once. Behind a proxy names may resolve only there: no verdict (None)."""
  if any(os.environ.get(v) for v in PROXY_VARIABLES):
    return None
  for host in sorted({urllib.parse.urlparse(u).hostname for u in urls} - {None}):
    try:
      socket.getaddrinfo(host, 443)
    except OSError:
      return host
  return None


def _check_can_download(tfds, data_config):
  """A one-line DataError, before any attempt, if the dataset is not prepared and the
  hosts of its source files do not resolve."""
  try:
    builder = tfds.builder(data_config.name, data_dir=data_config.data_dir)
    if builder.is_prepared():
      return
    host = unresolvable_host(builder.url_infos or ())
  except Exception:  # an unknown name and the like: tfds.data_source reports those
    return
  if host:
    raise DataError(
        f'TFDS dataset {data_config.name!r} is not prepared in '
        f'{data_config.data_dir or "the default data_dir"} and cannot be downloaded: '
        f'{host} does not resolve (no network); prepare it offline with: '
        f'{_import_command(data_config)}')


def _tfds(data_config):
  """The official train and test splits, read through TFDS's array_record data source;
  downloaded and prepared first when config.data.download allows it and they are not."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  download = data_config.get('download', True)
  where = data_config.data_dir or 'the default data_dir'
  if download:
    _check_can_download(tfds, data_config)
  splits = {}
  for split in ('train', 'test'):
    try:  # the first split downloads and prepares the whole dataset; the second reads it
      source = tfds.data_source(data_config.name, split=split, data_dir=data_config.data_dir,
                                download=download)
    except Exception as e:  # TFDS raises many types, for "not prepared" and for no network
      if download:
        raise DataError(
            f'TFDS could not download and prepare {data_config.name!r} into {where} '
            f'({_first_line(e)}); without network, prepare it offline with: '
            f'{_import_command(data_config)}') from e
      raise DataError(
          f'TFDS dataset {data_config.name!r} is not prepared in {where} and '
          f'config.data.download is False ({type(e).__name__}); set '
          f'--config.data.download=True where there is network, or prepare it offline with: '
          f'{_import_command(data_config)}') from e
    try:  # one batched read decodes 2-3x faster than item by item
      examples = source.__getitems__(range(len(source)))
    except (TypeError, AttributeError):  # mocked sources (tfds.testing) read item by item
      examples = [source[i] for i in range(len(source))]
    splits[split] = (np.stack([e['image'] for e in examples]),
                     np.array([e['label'] for e in examples]))
  return splits
