"""The search settings the controller cannot follow, refused naming the key and the fix.

Kept apart so that the modes (`odn_jax.search.modes`) can ask for the depth limit without
importing the controller.
"""

from typing import Sequence

import ml_collections

from odn_jax.errors import ConfigError
from odn_jax.models import num_blocks

MODES = ('target', 'saturation', 'budget')
STARTS = ('shallowest', 'profile', 'deepest')
BUDGET_KEYS = ('params', 'bytes', 'flops')


def max_depth(config: ml_collections.ConfigDict) -> int:
  blocks = num_blocks(config.model.arch)
  depth = config.model.max_depth or blocks
  if not 1 <= depth <= blocks:
    raise ConfigError(f'config.model.max_depth must be in 1..{blocks} (0 for all) for '
                      f'{config.model.arch}, got {config.model.max_depth}')
  return depth


def check_config(config):
  """Refuses search settings the controller cannot follow, naming the key and the fix."""
  max_depth(config)
  s = config.search
  if s.mode not in MODES:
    raise ConfigError(f'config.search.mode must be one of {MODES}, got {s.mode!r}')
  if s.start not in STARTS:
    raise ConfigError(f'config.search.start must be one of {STARTS}, got {s.start!r}')
  if not 0 < s.target <= 100:
    raise ConfigError(f'config.search.target must be in (0, 100], got {s.target}')
  for key in ('tolerance', 'min_gain', 'start_margin', 'min_delta', 'max_epochs_per_depth',
              'max_epochs_total'):
    if s[key] < 0:
      raise ConfigError(f'config.search.{key} must be >= 0, got {s[key]}')
  for key in ('patience', 'plateau_patience'):
    if s[key] < 1:
      raise ConfigError(f'config.search.{key} must be >= 1, got {s[key]}')
  if s.learning_rate <= 0 or s.expansion_lr_scale <= 0:
    raise ConfigError('config.search.learning_rate and expansion_lr_scale must be > 0, got '
                      f'{s.learning_rate} and {s.expansion_lr_scale}')
  if s.final_epochs < 0 or s.abandon_min_epochs < 3 or s.abandon_noise < 0:
    raise ConfigError('config.search.final_epochs and abandon_noise must be >= 0 and '
                      f'abandon_min_epochs >= 3, got {s.final_epochs}, {s.abandon_noise} and '
                      f'{s.abandon_min_epochs}')
  if s.mode == 'budget' and not any(s.budget[k] for k in BUDGET_KEYS):
    raise ConfigError("config.search.mode='budget' needs a limit: set config.search.budget"
                      '.params, .bytes or .flops')


def depth_limit(config, sizes: Sequence[dict] | None = None) -> int:
  """The deepest depth the search may train: max_depth, and in budget mode what fits.

  `sizes` are the rows of `odn_jax.models.size.depth_table` (params, bytes, flops per depth).
  """
  limit = max_depth(config)
  if config.search.mode != 'budget':
    return limit
  if sizes is None:
    raise ValueError('budget mode needs the size of every depth')
  budget = config.search.budget
  fits = [row['depth'] for row in sizes if row['depth'] <= limit and all(
      not budget[k] or row[k] <= budget[k] for k in BUDGET_KEYS)]
  if not fits:
    raise ConfigError(f'no depth fits config.search.budget ({budget.to_dict()}); depth 1 '
                      f'needs {dict((k, sizes[0][k]) for k in BUDGET_KEYS)}')
  return max(fits)
