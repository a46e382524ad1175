"""The one place a config is checked: every key's type and range, before anything runs.

  validate.check(config)               # a ConfigError naming the first key at fault
  validate.check_devices(config, n)    # what depends on the machine: batches over n devices

The type of every key is the type of its default (`odn_jax.config.defaults`): a key added
there is checked with no change here. `RULES` adds the range of the keys that have one,
and `_check_together` the rules that join several keys. A key the defaults do not have is
refused with the nearest one, so a misspelt group or key never runs with its default.
"""

import difflib
import math
from typing import Callable

import ml_collections

from odn_jax.config import defaults
from odn_jax.data.sources import SOURCES
from odn_jax.errors import ConfigError
from odn_jax.models import ARCHS, num_blocks
from odn_jax.search.checks import BUDGET_KEYS, MODES, STARTS
from odn_jax.search.growth import GROW_INITS


def _one_of(choices):
  return (lambda v: v in choices), f'one of {choices}'


def _at_least(low):
  return (lambda v: v >= low), f'>= {low}'


def _above(low):
  return (lambda v: v > low), f'> {low}'


def _between(low, high):
  return (lambda v: low <= v <= high), f'in [{low}, {high}]'


# dotted key -> (predicate, what it requires, in words). None (a placeholder) is never checked.
RULES: dict[str, tuple[Callable, str]] = {
    'schedule': _one_of(defaults.SCHEDULES),
    'seed': ((lambda v: 0 <= v < 2**31), 'in 0..2**31-1'),
    'data.source': _one_of(SOURCES),
    'data.name': ((lambda v: bool(v.strip())), 'a dataset name'),
    'data.num_train': _at_least(0),
    'data.num_val': _at_least(0),
    'data.split_seed': ((lambda v: 0 <= v < 2**32), 'None or in 0..2**32-1'),
    'data.train_subset': _at_least(0),
    'data.num_classes': _at_least(2),
    'data.mean': ((lambda v: len(v) in (1, 3)), 'one value per channel (1 or 3)'),
    'data.std': ((lambda v: len(v) in (1, 3) and all(s > 0 for s in v)),
                 'one value > 0 per channel (1 or 3)'),
    'data.prefetch': _at_least(0),
    'batch_size': _at_least(1),
    'eval_batch_size': _at_least(1),
    'precise_bn_batches': _at_least(0),
    'model.width': _at_least(1),
    'model.max_depth': _at_least(0),
    'optim.momentum': ((lambda v: 0 <= v < 1), 'in [0, 1)'),
    'optim.weight_decay': _at_least(0),
    'warmup.epochs': _at_least(0),
    'warmup.learning_rate': _above(0),
    'search.mode': _one_of(MODES),
    'search.min_gain': _at_least(0),
    'search.start': _one_of(STARTS),
    'search.start_margin': _at_least(0),
    'search.target': ((lambda v: 0 < v <= 100), 'in (0, 100]'),
    'search.tolerance': _at_least(0),
    'search.learning_rate': _above(0),
    'search.expansion_lr_scale': _above(0),
    'search.patience': _at_least(1),
    'search.min_delta': _at_least(0),
    'search.plateau_patience': _at_least(1),
    'search.plateau_factor': ((lambda v: 0 < v <= 1), 'in (0, 1]'),
    'search.grow_decimals': _between(0, 6),
    'search.finetune_decimals': _between(0, 6),
    'search.max_epochs_per_depth': _at_least(0),
    'search.max_epochs_total': _at_least(0),
    'search.finetune_learning_rate': _above(0),
    'search.abandon_noise': _at_least(0),
    'search.abandon_min_epochs': _at_least(3),
    'search.abandon_min_decays': _at_least(0),
    'search.final_epochs': _at_least(0),
    'search.parallel_depths': _at_least(1),
    'search.race_lookahead': _at_least(1),
    'search.budget.params': _at_least(0),
    'search.budget.bytes': _at_least(0),
    'search.budget.flops': _at_least(0),
    'grow.init': _one_of(GROW_INITS),
    'grow.carry': _between(0.0, 1.0),
    'early_exit_epochs': _at_least(0),
    # 0 would let Orbax delete every checkpoint as it is written: nothing to resume from.
    'checkpoint.keep': _at_least(1),
}


def _types(config: ml_collections.ConfigDict, prefix: str = '') -> dict[str, type]:
  """{dotted key: the type of its value} of a ConfigDict; ConfigDict for a nested one."""
  types = {}
  for key in config.keys():
    value = config[key]
    if isinstance(value, ml_collections.ConfigDict):
      types[prefix + key] = ml_collections.ConfigDict
      types.update(_types(value, f'{prefix}{key}.'))
    else:
      types[prefix + key] = config.get_type(key)
  return types


def _get(config, dotted: str):
  for part in dotted.split('.'):
    config = config[part]
  return config


def _is_number(v) -> bool:
  return isinstance(v, (int, float)) and not isinstance(v, bool)


def _type_error(value, expected: type) -> str | None:
  """Why `value` is not a value of a key whose default is of type `expected`; None if it is."""
  if expected is ml_collections.ConfigDict:
    return None if isinstance(value, ml_collections.ConfigDict) else 'a group of keys'
  if value is None:
    return None  # a placeholder left unset
  if expected is bool:
    return None if isinstance(value, bool) else 'True or False'
  if expected is int:
    return None if isinstance(value, int) and not isinstance(value, bool) else 'an integer'
  if expected is float:
    if not _is_number(value):
      return 'a number'
    return None if math.isfinite(value) else 'a finite number'
  if expected is str:
    return None if isinstance(value, str) else 'a string'
  if expected in (tuple, list):
    if not isinstance(value, (tuple, list)) or not all(_is_number(v) for v in value):
      return 'a tuple of numbers, e.g. "(0.5,)" or "(0.5, 0.5, 0.5)"'
    return None if all(math.isfinite(v) for v in value) else 'a tuple of finite numbers'
  return None


def unknown_key(key: str, known) -> str:
  """The message for a key the defaults do not have, with the nearest known key."""
  close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
  if not close and '.' in key:  # a misspelt group: its name against the groups
    group = key.split('.')[0]
    groups = sorted({k.split('.')[0] for k in known if '.' in k})
    near = difflib.get_close_matches(group, groups, n=1, cutoff=0.6)
    if near:
      close = [near[0] + key[len(group):]]
  hint = f'; did you mean config.{close[0]}?' if close else ''
  return (f'unknown config key config.{key}{hint} (every key is declared in '
          'odn_jax/config/defaults.py)')


def check(config: ml_collections.ConfigDict):
  """A ConfigError naming the first key whose value the run cannot use, and what it needs."""
  known, given = _types(defaults.base_config()), _types(config)
  for key in given:
    if key not in known:
      raise ConfigError(unknown_key(key, known))
  for key, expected in known.items():
    if key not in given:
      continue  # an older config (e.g. a saved config.json) without a newer key: its default
    value = _get(config, key)
    need = _type_error(value, expected)
    if need:
      raise ConfigError(f'config.{key} must be {need}, got {value!r}')
    if key in RULES and value is not None:
      ok, text = RULES[key]
      if not ok(value):
        raise ConfigError(f'config.{key} must be {text}, got {value!r}')
  _check_together(config)


def _check_together(config):
  if config.model.arch not in ARCHS:
    raise ConfigError(f'config.model.arch must be one of {sorted(ARCHS)}, got '
                      f'{config.model.arch!r}')
  blocks = num_blocks(config.model.arch)
  if config.model.max_depth > blocks:
    raise ConfigError(f'config.model.max_depth must be in 1..{blocks} (0 for all) for '
                      f'{config.model.arch}, got {config.model.max_depth}')
  if len(config.data.mean) != len(config.data.std):
    raise ConfigError(f'config.data.mean and config.data.std must have one value per channel '
                      f'each, got {len(config.data.mean)} and {len(config.data.std)}')
  s = config.search
  if s.mode == 'budget' and not any(s.budget[k] for k in BUDGET_KEYS):
    raise ConfigError("config.search.mode='budget' needs a limit: set config.search.budget"
                      '.params, .bytes or .flops')


def check_devices(config, devices: int):
  """What the machine decides: every batch divides evenly over its `devices`."""
  for key in ('batch_size', 'eval_batch_size'):
    if config[key] % devices:
      raise ConfigError(f'config.{key}={config[key]} does not divide evenly over {devices} '
                        f'devices; use a multiple of {devices}')
