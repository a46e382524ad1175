"""The search's names (modes, starts, budget measures) and the depth limit a config allows.

Every config value is checked once, before a run, by `odn_jax.config.validate` (which reads
the names from here); kept apart so that the modes (`odn_jax.search.modes`) can ask for the
depth limit without importing the controller.
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
