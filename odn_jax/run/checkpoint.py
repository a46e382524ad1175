"""Orbax checkpoints of a search: one per epoch (resumable), one per converged depth,
and the extracted optimal subnet (where each lives: `odn_jax.run.workdir`).

  checkpoints/<epoch>/      the CheckpointManager's steps: the train tree + JSON metadata
  checkpoints/depth_NN/     best weights of depth NN when it converged (never deleted)
  optimal/                  the extracted subnet: variables/ + model.json
Orbax writes each step to a temporary directory and renames it when complete, so a
step that exists is whole; `optimal/` and `depth_NN/` are published the same way.
"""

import jax
import numpy as np
import orbax.checkpoint as ocp

from odn_jax.errors import NotFoundError, UserError
from odn_jax.run import record_files, records, workdir as workdir_lib


class CheckpointError(UserError, ValueError):
  """A checkpoint that exists but cannot be used."""


class _Manager(ocp.CheckpointManager):
  """Orbax's manager with the preemption check left to the trainer alone.

  Orbax asks JAX's preemption sync point too: with the step it saves and, on process 0,
  again from its save-finalize thread, after the trainer has asked later steps. JAX
  agrees on one past the largest step the hosts asked last, so that stale ask can agree on
  a step process 0 has passed: the others stop and save while it trains on, and the job
  hangs (seen as a rare hang of a SIGTERM to one host of two).
  """

  def reached_preemption(self, step: int) -> bool:
    del step  # the trainer saves when it stops; Orbax need not decide it
    return False


def manager(workdir: workdir_lib.PathLike, keep: int | None = None) -> ocp.CheckpointManager:
  """The run's epoch checkpoints, keeping the newest `keep`; `keep=None` opens them to
  read only (nothing is pruned or created)."""
  if keep is None:
    options = ocp.CheckpointManagerOptions(read_only=True, step_format_fixed_length=6)
  else:
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                           step_format_fixed_length=6)
  return _Manager(workdir_lib.file(workdir, workdir_lib.CHECKPOINTS), options=options)


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
  try:  # epochs saved by an older version: read as history.json's are
    return {**meta, 'history': records.checked(meta['history'])}
  except (ValueError, TypeError) as e:
    raise _unusable(mngr, step, e) from e


def restore_tree(mngr: ocp.CheckpointManager, step: int, template):
  """The train tree of `step`, shaped like `template` (a tree of arrays or ShapeDtypeStructs)."""
  try:
    restored = mngr.restore(step, args=ocp.args.Composite(train=ocp.args.StandardRestore(template)))
  except Exception as e:  # any damage or mismatch: refuse, never silently start over
    raise _unusable(mngr, step, e) from e
  return restored['train']


def save_variables(path: workdir_lib.PathLike, variables: dict,
                   model_info: records.ModelInfo | None = None):
  """{'params', 'state'} (host copies) and an optional model.json, all or nothing at `path`."""
  host = jax.tree.map(np.asarray, variables)

  def write(tmp):
    # Every host calls Orbax (it coordinates them and writes once); model.json is process 0's.
    with ocp.StandardCheckpointer() as checkpointer:
      checkpointer.save(tmp / workdir_lib.VARIABLES, host)
      checkpointer.wait_until_finished()  # complete before the rename publishes it
    if model_info is not None:
      record_files.write_model_info(tmp / workdir_lib.MODEL_INFO, model_info)

  workdir_lib.write_folder(path, write, collective=True)


def load_variables(path: workdir_lib.PathLike) -> dict:
  """The {'params', 'state'} saved by `save_variables` (the subnet with its model.json:
  `odn_jax.deploy.subnet.load`)."""
  path = workdir_lib.path(path)
  if not (path / workdir_lib.VARIABLES).is_dir():
    raise NotFoundError(f'no saved variables under {path}')
  with ocp.StandardCheckpointer() as checkpointer:
    return checkpointer.restore(path / workdir_lib.VARIABLES)


def restore_full_variables(workdir: workdir_lib.PathLike) -> dict:
  """{'params', 'state'} of the full network at the run's latest checkpoint."""
  if not workdir_lib.file(workdir, workdir_lib.CHECKPOINTS).is_dir():
    raise NotFoundError(f'{workdir} has no checkpoints; run launch/train.py there first')
  mngr = manager(workdir)
  try:
    step = mngr.latest_step()
    if step is None:
      raise NotFoundError(f'{workdir} has no checkpoints; run launch/train.py there first')
    try:
      restored = mngr.restore(step, args=ocp.args.Composite(train=ocp.args.StandardRestore()))
    except Exception as e:
      raise _unusable(mngr, step, e) from e
  finally:
    mngr.close()
  return restored['train']['variables']
