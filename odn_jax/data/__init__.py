"""The input side: sources (TFDS, IDX, npz, embedded digits) -> splits -> checks -> batches.

  ds = data.load(config)    # a DataError before training if the checks find a mistake
  ds.warnings               # what the checks found worth reporting with the run
  ds.class_names            # the name of every class, or None where the source has none
  ds.train_batches(order)   # this host's share of each global batch, order f(seed, order key)
  ds.eval_batches(split)    # whole split, fixed order, last batch padded, with a 'mask'
"""

from absl import logging
import jax

from odn_jax.data import checks, sources
from odn_jax.data.errors import DataError
from odn_jax.data.pipeline import Dataset
from odn_jax.data.sources import SOURCES, load_splits


def inspect(config) -> tuple[dict, list]:
  """The splits `config.data` describes and every finding of the checks, errors included."""
  raw = sources.read(config.data)
  splits = sources.cut(raw, config.data)  # first: sizes that do not fit are the first error
  findings = []
  cut = sources.positional_cut(raw, config.data)
  if cut and (found := checks.order(raw['train'][1], config.data.source, *cut)):
    findings.append(found)
  findings += checks.run(splits, config.data.num_classes, config.batch_size, raw['train'][1],
                         cut_by_position=cut is not None)
  if config.data.get('split_seed') is not None:
    findings.append(checks.Finding(checks.INFO, (
        f'the training split was shuffled with config.data.split_seed='
        f'{config.data.split_seed} before validation was cut from it')))
  return splits, sorted(findings, key=lambda f: checks.LEVELS.index(f.level))


def load(config) -> Dataset:
  """The dataset `config.data` describes, checked, batched by `config.batch_size`."""
  splits, findings = inspect(config)
  checks.raise_errors(findings, f'{config.data.source} data {config.data.name!r}')
  ds = Dataset(config.data.name, splits, config.data.num_classes, config.data.mean,
               config.data.std, config.batch_size, config.eval_batch_size,
               config.seed, augment=config.data.augment,
               prefetch=config.data.prefetch, drop_last=config.data.get('drop_last', True),
               num_devices=jax.device_count())
  ds.findings = findings
  ds.fingerprint = checks.fingerprint(splits)  # the run's identity in its checkpoints
  ds.class_names = sources.class_names(config.data)  # None where the source has no names
  ds.warnings = [f.message for f in findings if f.level == checks.WARNING]
  for warning in ds.warnings:
    logging.warning('data: %s', warning)
  return ds


__all__ = ['DataError', 'Dataset', 'SOURCES', 'checks', 'inspect', 'load', 'load_splits']
