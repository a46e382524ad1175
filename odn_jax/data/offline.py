"""Prepare a TFDS dataset with no network from its original files in a local folder.

TFDS takes a file as downloaded when `<download_dir>/<get_dl_fname(url, checksum)>` and
its `.INFO` exist. We check each local file against the checksum TFDS registered for
its url, place it under that name with TFDS's own INFO writer, and let the real builder
prepare the dataset as if it had downloaded it.
"""

import hashlib
import os
import shutil

from odn_jax.data import idx
from odn_jax.data.errors import DataError


def _sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _same_idx_content(path: str) -> bool:
  """Distributions (Debian's among them) re-compress the original .gz files, which changes
  their sha256 but not their content: accept a file whose content is a well-formed IDX
  array. TFDS's builder then checks the decoded examples as it prepares them."""
  try:
    idx.read_idx(path)
    return True
  except (DataError, OSError, EOFError):
    return False


def place_source_files(builder, source_dir: str, download_dir: str) -> list[str]:
  """Copies the builder's source files from `source_dir` into TFDS's download cache."""
  from tensorflow_datasets.core.download import resource  # pylint: disable=g-import-not-at-top
  url_infos = builder.url_infos
  if not url_infos:
    raise DataError(f'TFDS has no registered source files for {builder.name}; '
                    'it cannot be imported offline')
  os.makedirs(download_dir, exist_ok=True)
  placed = []
  for url, info in sorted(url_infos.items()):
    name = info.filename or os.path.basename(url)
    local = os.path.join(source_dir, name)
    if not os.path.exists(local):
      raise DataError(f'{source_dir} lacks {name} (from {url}); put the original files of '
                      f'{builder.name} there')
    if info.checksum and _sha256(local) != info.checksum and not _same_idx_content(local):
      raise DataError(f'{local} does not match the sha256 TFDS registered for it '
                      f'({info.checksum}) and is no IDX file; it is not the original file')
    target = os.path.join(download_dir, resource.get_dl_fname(url, info.checksum))
    shutil.copyfile(local, target + '.tmp')
    os.replace(target + '.tmp', target)
    resource.write_info_file(url, _epath(target), builder.name, name, info)
    placed.append(target)
  return placed


def _epath(path):
  from etils import epath  # pylint: disable=g-import-not-at-top
  return epath.Path(path)


def import_dataset(name: str, source_dir: str, data_dir: str | None = None) -> dict:
  """Prepares TFDS dataset `name` in `data_dir` from `source_dir`; returns split sizes."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(source_dir):
    raise DataError(f'--source_dir {source_dir} is not a folder')
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception as e:
    raise DataError(f'TFDS has no dataset {name!r} ({type(e).__name__})') from e
  download_dir = os.path.join(builder.data_dir_root, 'downloads')
  place_source_files(builder, source_dir, download_dir)
  builder.download_and_prepare(download_dir=download_dir, file_format='array_record')
  return {split: info.num_examples for split, info in builder.info.splits.items()}
