"""How a new depth starts: the weights it trains from, and the optimizer state it keeps.

`RunState.move_to` (odn_jax/train/state.py) is the one place the active depth changes; it
asks this module what the next depth starts from. After the warm-up, the first depth starts
from every head as the warm-up left them, with a new optimizer. On growth to depth d+1,
`config.grow.init` chooses what the deeper network starts from:
  'trained'  : the full tree as it stands (the warm-up plus every depth trained since);
  'warmup'   : the warm-up weights alone, discarding later training, and a new optimizer
               (zero momentum): the paper's notebooks;
  'identity' : as 'trained', but the new block's last BatchNorm has scale and shift at
               zero, so the block adds nothing to its shortcut, and the new head is a copy
               of the previous one: the deeper net first computes what the shallower did.
               Exact where the shortcut is the identity (no projection).
With 'trained' and 'identity' the optimizer keeps the momentum of the pieces both depths
share; `config.grow.carry` < 1 blends the trained weights back towards the warm-up's.
"""

import jax
import jax.numpy as jnp

from odn_jax.models import block_key, head_key, partition

GROW_INITS = ('trained', 'warmup', 'identity')


def keeps_warmup(config) -> bool:
  """Whether growth reads the warm-up's weights (reloads them, or blends towards them), so a
  run keeps (and saves) them."""
  return config.grow.init == 'warmup' or config.grow.carry != 1.0


def start_variables(config, variables: dict, warmup_variables: dict | None, depth: int,
                    after_warmup: bool) -> dict:
  """The full {'params', 'state'} trees depth `depth` starts from: `variables` (every piece
  as kept so far) straight after the warm-up, else what `config.grow` grows them into."""
  if after_warmup:
    return variables
  return grown_variables(variables, warmup_variables, depth, config.grow.init,
                         config.grow.carry)


def start_opt_state(config, previous, fresh, after_warmup: bool):
  """The optimizer state a new depth starts with, given the `previous` depth's and a `fresh`
  one (zero momentum): fresh after the warm-up and with grow.init='warmup' (the paper's new
  SGD), else `fresh` with the previous momentum of every piece both depths share."""
  if after_warmup or config.grow.init == 'warmup':
    return fresh
  return partition.carry_over(previous, fresh)


def grown_variables(variables: dict, warmup_variables: dict, depth: int, init: str,
                    carry: float = 1.0) -> dict:
  """Full {'params', 'state'} trees from which depth `depth` starts training.

  With 'trained' and 'identity', `carry` < 1 moves every trained weight back towards its
  warm-up value, carry x trained + (1 - carry) x warm-up (config.grow.carry): a converged,
  annealed solution is a poor place to restart training from (Ash & Adams 2020, "shrink and
  perturb"), the warm-up weights are the paper's; this is the line between the two.
  """
  if init not in GROW_INITS:  # odn_jax.config.validate refuses it first: a bug if seen here
    raise ValueError(f'unknown grow.init {init!r}')
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
