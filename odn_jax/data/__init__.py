"""The input side: sources (TFDS, IDX, npz, embedded digits) -> splits -> batches.

  ds = data.load(config)
  ds.train_batches(epoch)   # this host's share of each global batch, order f(seed, epoch)
  ds.eval_batches(split)    # whole split, fixed order, last batch padded, with a 'mask'
"""

from odn_jax.data.errors import DataError
from odn_jax.data.pipeline import Dataset
from odn_jax.data.sources import SOURCES, load_splits


def load(config, seed: int | None = None) -> Dataset:
  """The dataset `config.data` describes, batched by `config.batch_size`."""
  splits = load_splits(config.data)
  return Dataset(config.data.name, splits, config.data.num_classes, config.data.mean,
                 config.data.std, config.batch_size, config.eval_batch_size,
                 config.seed if seed is None else seed, augment=config.data.augment,
                 prefetch=config.data.prefetch)


__all__ = ['DataError', 'Dataset', 'SOURCES', 'load', 'load_splits']
