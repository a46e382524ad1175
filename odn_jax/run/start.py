"""Whether a workdir can take a run, and starting one there (`prepare`, then `start`).

  finished = start.prepare(config, workdir, fresh)   # checks only: nothing written
  ...                                                # data checked, checkpoints' identity too
  start.start(config, workdir, fresh)                # --fresh deletes, config.json written

--fresh deletes only after every check has passed, and only what a run of odn_jax wrote.
"""

import json
import os
import sys

from etils import epath
import ml_collections

from odn_jax.errors import ConfigError
from odn_jax.run import parallel
from odn_jax.run.workdir import (CHECKPOINTS, CONFIG, HISTORY, LOCK, PER_HOST_KEYS, RUN_FILES,
                                 SUMMARY, PathLike, RunFileError, config_differences, file,
                                 holds_run, is_remote, is_writer, path, read_json_if_exists,
                                 sync, write_text)


def create(workdir: PathLike) -> bool:
  """Makes `workdir` (and its parents) if needed, or a one-line error why it cannot be.
  Returns whether this call made it (see `remove_if_empty`)."""
  root = path(workdir)
  made = False
  with parallel.agreed():
    if root.exists() and not root.is_dir():
      raise ConfigError(f'workdir {workdir} is a file; pass a directory')
    if is_writer():
      try:
        made = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
      except OSError as e:  # an unwritable parent, a full disk, a read-only file system
        raise ConfigError(f'cannot create workdir {workdir} ({e.strerror or e}); pass a '
                          'directory you can write') from None
  sync(f'create {root}')
  with parallel.agreed():
    # Remote file systems answer permissions at the first write, with their own message.
    if not is_remote(root) and not os.access(root, os.W_OK):
      raise ConfigError(f'workdir {workdir} is not writable; pass a directory you can write')
  return made


def remove_if_empty(workdir: PathLike):
  """Removes a workdir `create` made for a run that stopped before writing anything (a
  check failed): a mistake leaves no trace. rmdir removes only an empty folder."""
  root = path(workdir)
  if is_writer() and not is_remote(root):
    try:
      os.rmdir(root)
    except OSError:
      pass


def _readable(read, source: epath.Path, then: str):
  """(read(), False), or (None, True) where `source` is damaged: warned about, and taken as
  absent (training rewrites it: the checkpoints hold the run's own record of it)."""
  try:
    return read(), False
  except RunFileError as e:
    if is_writer():
      print(f'warning: {source} is damaged ({str(e).split(";")[0]}): {then}', file=sys.stderr)
    return None, True


def prepare(config: ml_collections.ConfigDict, workdir: PathLike,
            fresh: bool = False) -> dict | None:
  """Checks that `workdir` can take a run of `config` (creating the folder); returns the
  summary of a finished run (None otherwise). Nothing in it is written or deleted here.

  With `fresh`, the workdir must be new, empty or hold a run of odn_jax (which `start`
  deletes); anything else is refused."""
  text = config.to_json()
  current, first = json.loads(text), json.loads(parallel.from_process_0(text))
  # Every host checks, and all stop at once if any finds the workdir unusable.
  with parallel.agreed():
    differ = config_differences(first, current, ignore=PER_HOST_KEYS)
    if differ:
      raise ConfigError(f'this host was started with another config than host 0 (differs in '
                        f'{", ".join(differ)}); start every host with the same flags')
  create(workdir)
  with parallel.agreed():
    if fresh:
      others = sorted(p.name for p in path(workdir).iterdir() if p.name != LOCK)
      if others and not holds_run(workdir):
        raise ConfigError(f'--fresh refused: workdir {workdir} holds no odn_jax run (no '
                          f'{CONFIG} or {CHECKPOINTS}/, but {", ".join(others[:5])}); pass a '
                          'new or empty --workdir')
      return None
    config_file = file(workdir, CONFIG)
    saved, damaged = _readable(lambda: read_json_if_exists(config_file), config_file,
                               'the checkpoints\' own record of the config is checked instead, '
                               'and the file rewritten')
    # record_files and records read through odn_jax.run.workdir: imported here, not above.
    from odn_jax.run import record_files, records  # pylint: disable=g-import-not-at-top
    if saved is not None:  # with the keys added since it was written, as its run had them
      saved = records.upgrade('config', saved)
    checkpoints = file(workdir, CHECKPOINTS)
    trained = checkpoints.is_dir() and any(True for _ in checkpoints.iterdir())
    if saved is not None and trained:  # a config whose run never trained is simply replaced
      differ = config_differences(saved, current)
      if differ:
        raise ConfigError(f'workdir {workdir} holds a run of another config (differs in '
                          f'{", ".join(differ)}); use a new --workdir or --fresh to start over')
    _, history_damaged = _readable(lambda: record_files.load_history(workdir),
                                   file(workdir, HISTORY), 'it is rewritten from the checkpoints')
    summary, summary_damaged = _readable(lambda: record_files.load_summary_as_written(workdir),
                                         file(workdir, SUMMARY), 'the run is finished again '
                                         'from its last checkpoint')
    if damaged or history_damaged or summary_damaged or summary is None:
      return None  # not finished, or a damaged run file: rewritten by finishing again
    return summary  # summary.json as its run wrote it


def start(config: ml_collections.ConfigDict, workdir: PathLike, fresh: bool = False):
  """After every check has passed: with `fresh`, deletes what a run wrote (and nothing
  else: other files stay); then records the config in config.json."""
  if fresh and is_writer():
    for name in RUN_FILES:
      for target in (file(workdir, name), file(workdir, name + '.tmp')):
        if target.is_dir():
          target.rmtree()
        elif target.exists():
          target.unlink()
  sync(f'fresh {path(workdir)}')
  config_file, text = file(workdir, CONFIG), config.to_json(indent=1)
  try:
    saved = read_json_if_exists(config_file)
  except RunFileError:
    saved = None
  if saved != json.loads(text):  # new, or moved (a new data_dir): what evaluate.py reads
    write_text(config_file, text)
