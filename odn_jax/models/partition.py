"""Pytree surgery on depth-partitioned trees: prefixes, merges, extraction.

Parameter and BatchNorm-state trees are flat dicts keyed 'stem', 'block_NN',
'head_NN' (see `odn_jax.models.resnet`); every function here works on either.
"""

import jax
import numpy as np

from odn_jax.models.resnet import block_key, head_key


def prefix_keys(depth: int, heads: str = 'last') -> list[str]:
  """Keys depth `depth` reads: stem, blocks 1..depth, and its head (or heads 1..depth)."""
  if heads not in ('last', 'all'):
    raise ValueError(f"heads must be 'last' or 'all', got {heads!r}")
  head_range = range(1, depth + 1) if heads == 'all' else [depth]
  return (['stem'] + [block_key(i) for i in range(1, depth + 1)]
          + [head_key(i) for i in head_range])


def prefix(tree: dict, depth: int, heads: str = 'last') -> dict:
  """The part of `tree` that depth `depth` trains: stem, blocks 1..depth, head `depth`
  (or, with heads='all', every head up to it, as the warm-up trains them)."""
  return {k: tree[k] for k in prefix_keys(depth, heads) if k in tree}


def merge(full: dict, part: dict) -> dict:
  """`full` with the pieces of `part` written over it; every other leaf is shared as is."""
  unknown = set(part) - set(full)
  if unknown:
    raise KeyError(f'merge: {sorted(unknown)} are not pieces of the full tree')
  return {**full, **part}


def extract(tree: dict, depth: int, heads: str = 'last') -> dict:
  """The standalone subnet of depth `depth`; with heads='all' it keeps every early exit."""
  return jax.tree.map(np.asarray, prefix(tree, depth, heads))


def carry_over(old, new):
  """`new` with every leaf replaced by `old`'s leaf at the same path and shape.

  Used on growth to keep what the optimizer learned (momentum) for the pieces the
  old and new depth share, whatever the optimizer's state structure is.
  """
  old_leaves = {jax.tree_util.keystr(p): x for p, x in jax.tree_util.tree_leaves_with_path(old)}

  def pick(path, x):
    y = old_leaves.get(jax.tree_util.keystr(path))
    return y if y is not None and np.shape(y) == np.shape(x) else x

  return jax.tree_util.tree_map_with_path(pick, new)
