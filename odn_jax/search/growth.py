"""The one place where the active depth changes: the start of block d+1 and its head.

`config.grow.init` chooses what the deeper network starts from:
  'trained'  : the full tree as it stands (the warm-up plus every depth trained since);
  'warmup'   : the warm-up weights alone, discarding later training (the paper's notebooks);
  'identity' : as 'trained', but the new block's last BatchNorm has scale and shift at
               zero, so the block adds nothing to its shortcut, and the new head is a copy
               of the previous one: the deeper net first computes what the shallower did.
               Exact where the shortcut is the identity (no projection).
"""

import jax
import jax.numpy as jnp

from odn_jax.errors import ConfigError
from odn_jax.models import block_key, head_key

GROW_INITS = ('trained', 'warmup', 'identity')


def check_init(init: str):
  if init not in GROW_INITS:
    raise ConfigError(f'config.grow.init must be one of {GROW_INITS}, got {init!r}')


def grown_variables(variables: dict, warmup_variables: dict, depth: int, init: str,
                    carry: float = 1.0) -> dict:
  """Full {'params', 'state'} trees from which depth `depth` starts training.

  With 'trained' and 'identity', `carry` < 1 moves every trained weight back towards its
  warm-up value, carry x trained + (1 - carry) x warm-up (config.grow.carry): a converged,
  annealed solution is a poor place to restart training from (Ash & Adams 2020, "shrink and
  perturb"), the warm-up weights are the paper's; this is the line between the two.
  """
  check_init(init)
  if init == 'warmup':
    return warmup_variables
  if carry != 1.0:
    variables = jax.tree.map(lambda t, w: carry * t + (1.0 - carry) * w, variables,
                             warmup_variables)
  if init == 'trained' or depth == 1:
    return variables
  params = dict(variables['params'])
  block = dict(params[block_key(depth)])
  block['bn_out'] = jax.tree.map(jnp.zeros_like, block['bn_out'])
  params[block_key(depth)] = block
  previous_head, new_head = params[head_key(depth - 1)], params[head_key(depth)]
  if jax.tree.map(jnp.shape, previous_head) == jax.tree.map(jnp.shape, new_head):
    params[head_key(depth)] = previous_head
  return {'params': params, 'state': variables['state']}
