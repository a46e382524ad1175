"""Orbax checkpoints of a search: one per epoch (resumable), one per converged depth,
and the extracted optimal subnet.

Layout under the workdir:
  checkpoints/<epoch>/      the CheckpointManager's steps: the train tree + JSON metadata
  checkpoints/depth_NN/     best weights of depth NN when it converged (never deleted)
  optimal/                  the extracted subnet: variables/ + model.json
Orbax writes each step to a temporary directory and renames it when complete, so a
step that exists is whole; `optimal/` is assembled the same way.
"""

import json
import os
import shutil

import jax
import numpy as np
import orbax.checkpoint as ocp

from odn_jax import partition


class CheckpointError(ValueError):
  """A checkpoint that exists but cannot be used."""


def manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                         step_format_fixed_length=6)
  return ocp.CheckpointManager(os.path.join(os.path.abspath(workdir), 'checkpoints'),
                               options=options)


def save_epoch(mngr: ocp.CheckpointManager, step: int, tree, meta: dict):
  """Starts saving `step`; the arrays are copied before this returns (the next train step
  may donate them), the files are written in the background and published by a rename
  (`mngr.close()` waits for the last one)."""
  mngr.save(step, args=ocp.args.Composite(train=ocp.args.StandardSave(tree),
                                          meta=ocp.args.JsonSave(meta)))


def _unusable(mngr, step, e) -> CheckpointError:
  reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
  return CheckpointError(
      f'checkpoint {mngr.directory}/{step} cannot be restored ({reason}); rerun with the '
      'config it was written with, or pass --fresh to delete it and start over')


def restore_meta(mngr: ocp.CheckpointManager, step: int) -> dict:
  try:
    meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))['meta']
  except Exception as e:  # any damage: refuse, never silently start over
    raise _unusable(mngr, step, e) from e
  if not isinstance(meta, dict) or not {'history', 'plan', 'epoch_step'} <= set(meta):
    raise _unusable(mngr, step, ValueError('metadata incomplete'))
  return meta


def restore_tree(mngr: ocp.CheckpointManager, step: int, template):
  """The train tree of `step`, shaped like `template` (a tree of arrays or ShapeDtypeStructs)."""
  try:
    restored = mngr.restore(step, args=ocp.args.Composite(train=ocp.args.StandardRestore(template)))
  except Exception as e:  # any damage or mismatch: refuse, never silently start over
    raise _unusable(mngr, step, e) from e
  return restored['train']


def _write_atomically(path: str, write):
  path = os.path.abspath(path)
  tmp = path + '.tmp'
  shutil.rmtree(tmp, ignore_errors=True)
  write(tmp)
  shutil.rmtree(path, ignore_errors=True)
  os.rename(tmp, path)


def save_variables(path: str, variables: dict, model_info: dict | None = None):
  """{'params', 'state'} (host copies) and an optional model.json, all or nothing at `path`."""
  host = jax.tree.map(np.asarray, variables)

  def write(tmp):
    with ocp.StandardCheckpointer() as checkpointer:
      checkpointer.save(os.path.join(tmp, 'variables'), host)
      checkpointer.wait_until_finished()  # complete before the rename publishes it
    if model_info is not None:
      with open(os.path.join(tmp, 'model.json'), 'w') as f:
        json.dump(model_info, f, indent=1)

  _write_atomically(path, write)


def depth_path(workdir: str, depth: int) -> str:
  return os.path.join(os.path.abspath(workdir), 'checkpoints', f'depth_{depth:02d}')


def optimal_path(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), 'optimal')


def save_optimal(workdir: str, variables: dict, depth: int, model_info: dict):
  """The extracted subnet: stem, blocks 1..depth and heads 1..depth (early exits)."""
  subnet = {k: partition.extract(v, depth, heads='all') for k, v in variables.items()}
  save_variables(optimal_path(workdir), subnet, {**model_info, 'depth': depth})


def load_variables(path: str) -> tuple[dict, dict | None]:
  """(variables, model_info) saved by `save_variables`."""
  path = os.path.abspath(path)
  if not os.path.isdir(os.path.join(path, 'variables')):
    raise FileNotFoundError(f'no saved variables under {path}')
  with ocp.StandardCheckpointer() as checkpointer:
    variables = checkpointer.restore(os.path.join(path, 'variables'))
  info_file = os.path.join(path, 'model.json')
  info = None
  if os.path.exists(info_file):
    with open(info_file) as f:
      info = json.load(f)
  return variables, info


def restore_full_variables(workdir: str) -> dict:
  """{'params', 'state'} of the full network at the run's latest checkpoint."""
  mngr = manager(workdir, keep=1_000_000)  # reading only: never prunes
  step = mngr.latest_step()
  if step is None:
    raise FileNotFoundError(f'{workdir} has no checkpoints; run launch/train.py there first')
  try:
    restored = mngr.restore(step, args=ocp.args.Composite(train=ocp.args.StandardRestore()))
  except Exception as e:
    raise _unusable(mngr, step, e) from e
  mngr.close()
  return restored['train']['variables']
