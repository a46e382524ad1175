"""Orbax checkpoints of a search: one per epoch (resumable), one per converged depth,
and the extracted optimal subnet (where each lives: `odn_jax.run.workdir`).

  checkpoints/<epoch>/      the CheckpointManager's steps: the train tree + JSON metadata,
                            with the run's identity (`identity`): checked on every resume
  checkpoints/<epoch>.corrupt/  a step that could not be restored, set aside (never deleted)
  checkpoints/depth_NN/     best weights of depth NN when it converged (never deleted)
  optimal/                  the extracted subnet: variables/ + model.json
Orbax writes each step to a temporary directory and renames it when complete, so a
step that exists is whole; `optimal/` and `depth_NN/` are published the same way.
"""

import json
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp

from odn_jax.errors import NotFoundError, UserError
from odn_jax.run import record_files, records, workdir as workdir_lib


class CheckpointError(UserError, ValueError):
  """A checkpoint that exists but cannot be used."""


class IdentityError(UserError, ValueError):
  """A checkpoint written by another run: another config, or other data."""


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
    # Temporaries a crash left (a kill -9 mid-save, a full disk) are cleared: the workdir's
    # lock (odn_jax.run.lock) means no other run is writing them.
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                           step_format_fixed_length=6,
                                           cleanup_tmp_directories=True)
  return _Manager(workdir_lib.file(workdir, workdir_lib.CHECKPOINTS), options=options)


def save_epoch(mngr: ocp.CheckpointManager, step: int, tree, meta: dict):
  """Saves `step` and returns once it is committed (published by a rename, the steps beyond
  `keep` pruned): an epoch reported is an epoch kept, whatever kills the process next (a
  save left in flight lost its epoch to a kill -9)."""
  mngr.save(step, args=ocp.args.Composite(train=ocp.args.StandardSave(tree),
                                          meta=ocp.args.JsonSave(meta)))
  mngr.wait_until_finished()


def _unusable(mngr, step, e) -> CheckpointError:
  reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
  error = CheckpointError(
      f'checkpoint {mngr.directory}/{step} cannot be restored ({reason}); rerun with the '
      'config it was written with, or pass --fresh to delete it and start over')
  error.reason = reason
  return error


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


def identity(config, data_fingerprint: dict) -> dict:
  """What makes a run this run, saved with every checkpoint: the config keys that change
  the computation (all but where things are and how fast they are read) and the data's
  fingerprint (`odn_jax.data.checks.fingerprint`)."""
  ignore = set(workdir_lib.RESUMABLE_KEYS) | {'data.path'}  # the data's bytes say it all
  flat = workdir_lib.flatten(json.loads(config.to_json()))
  return json.loads(json.dumps({'config': {k: v for k, v in flat.items() if k not in ignore},
                                'data': data_fingerprint}))


def _short(value) -> str:
  text = json.dumps(value)
  return text if len(text) <= 40 else text[:37] + '...'


def identity_differences(saved: dict, current: dict) -> list[str]:
  """What differs between two identities, in words ([] when the run is the same). A key
  only one of them has (one added to the defaults since) is no difference."""
  differ = []
  old, new = saved.get('config', {}), current.get('config', {})
  for key in sorted(set(old) & set(new)):
    if old[key] != new[key]:
      differ.append(f'config.{key}: {_short(old[key])} there, {_short(new[key])} here')
  old, new = saved.get('data', {}), current.get('data', {})
  for split in sorted(set(old) | set(new)):
    a, b = old.get(split) or {}, new.get(split) or {}
    if a != b:
      fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
      differ.append(f'the {split} split: its {", ".join(fields)} differ')
  return differ


def check_identity(mngr: ocp.CheckpointManager, step: int, meta: dict, expected: dict | None):
  """An IdentityError naming what differs if `step` was written by another run than
  `expected` (an `identity`); a checkpoint written before identities were saved passes."""
  if expected is None or 'identity' not in meta:
    return
  differ = identity_differences(meta['identity'], expected)
  if differ:
    raise IdentityError(
        f'checkpoint {mngr.directory}/{step} was written by another run '
        f'({"; ".join(differ)}); rerun with the config and data it was written with, or pass '
        'a new --workdir (or --fresh to delete it)')


def restore_latest(mngr: ocp.CheckpointManager, template_of, expected: dict | None):
  """(tree, meta) of the newest intact step, or None where there is none yet.

  A step that cannot be restored (damaged by a crash or a full disk) is set aside as
  <step>.corrupt and the next older one is tried, with a warning; a step written by another
  run (`expected`, an `identity`) stops at once with an IdentityError naming what differs.
  `template_of(meta)` gives the tree's shapes at that step's position.
  """
  failed = []
  for step in sorted(mngr.all_steps(), reverse=True):
    try:
      meta = restore_meta(mngr, step)
      check_identity(mngr, step, meta, expected)
      tree = restore_tree(mngr, step, template_of(meta))
    except CheckpointError as e:
      failed.append((step, e))
      continue
    for bad, e in failed:
      print(f'warning: checkpoint {mngr.directory}/{bad} cannot be restored ({e.reason}): '
            f'set aside as {bad:06d}.corrupt; resuming from step {step}', file=sys.stderr)
      if workdir_lib.is_writer():
        (mngr.directory / f'{bad:06d}').rename(mngr.directory / f'{bad:06d}.corrupt')
    if failed:
      workdir_lib.sync('set aside corrupt steps')
      mngr.reload()
    return tree, meta
  if len(failed) > 1:
    raise CheckpointError(f'{failed[0][1]} (nor can any of the {len(failed) - 1} older steps)')
  if failed:
    raise failed[0][1]
  return None


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
