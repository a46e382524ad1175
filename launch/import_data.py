r"""Prepares a TFDS dataset offline from its original files.

  odn-import-data --dataset=fashion_mnist --source_dir=/usr/share/datasets/fashion-mnist \
      [--data_dir=~/tensorflow_datasets]

Files in the MNIST format need no import: the `idx` source reads them where they are,
plain, gzipped or in a .zip, e.g. EMNIST letters as NIST ships them (124,800 / 20,800, the
paper's data; TFDS's `emnist/letters` holds 88,800 / 14,800):

  odn-train --config=emnist --config.data.source=idx --config.data.path=DIR_OR_gzip.zip \
      --config.data.num_train=114800 --config.data.num_val=10000 --workdir=/tmp/odn_emnist

From a clone, `python launch/import_data.py` is the same command.
"""

from absl import flags

from odn_jax.cli.main import run_main
from odn_jax.data import offline

_DATASET = flags.DEFINE_string('dataset', None, 'TFDS name, e.g. fashion_mnist or mnist.')
_SOURCE_DIR = flags.DEFINE_string('source_dir', None, "Folder with the dataset's original files.")
_DATA_DIR = flags.DEFINE_string('data_dir', None, "TFDS data_dir (None: TFDS's default).")
flags.mark_flags_as_required(['dataset', 'source_dir'])


def main(argv):
  del argv
  sizes = offline.import_dataset(_DATASET.value, _SOURCE_DIR.value, _DATA_DIR.value)
  print(f'prepared {_DATASET.value}: ' + ', '.join(f'{k} {v:,}' for k, v in sizes.items()))


if __name__ == '__main__':
  run_main(main)
