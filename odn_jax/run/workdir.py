"""The layout of a run's workdir, and the one way files are written into it.

  DIR/run.lock          held by the run in progress (odn_jax.run.lock): one run at a time
  DIR/config.json       the config the run started with (resuming checks it)
  DIR/history.json      one record per epoch so far
  DIR/summary.json      the result; that it exists marks the run as finished
  DIR/report.md         the human-readable report, with DIR/plots/*.png
  DIR/tensorboard/      per-epoch scalars
  DIR/checkpoints/      Orbax's epoch steps (resumable), and depth_NN/: the best weights of
                        each converged depth
  DIR/optimal/          the extracted subnet: variables/ + model.json, and README.md: its
                        model card

Every host of a multi-host job runs the same code; only process 0 writes these files
(`is_writer`), and each is written whole or not at all: under a temporary name first,
then renamed.

Every path is an `etils.epath.Path`, so a workdir may be local or anywhere epath reaches
(`gs://bucket/run` on a TPU VM): no file of a run is touched through `os` or `open`.
"""

import json
import os
from typing import Callable

from etils import epath
import jax
import ml_collections

from odn_jax.errors import NotFoundError, UserError

CONFIG = 'config.json'
HISTORY = 'history.json'
SUMMARY = 'summary.json'
REPORT = 'report.md'
PLOTS = 'plots'
TENSORBOARD = 'tensorboard'
CHECKPOINTS = 'checkpoints'
OPTIMAL = 'optimal'
VARIABLES = 'variables'  # inside a saved-variables folder (optimal/, depth_NN/)
MODEL_INFO = 'model.json'  # beside it: how to rebuild and feed the network
MODEL_CARD = 'README.md'  # in optimal/: what the subnet is and how it was found
LOCK = 'run.lock'
# What a run writes at the top of its workdir: all that --fresh deletes (with their
# temporaries); and what marks a folder as holding a run.
RUN_FILES = (CONFIG, HISTORY, SUMMARY, REPORT, PLOTS, TENSORBOARD, CHECKPOINTS, OPTIMAL)
MARKS_A_RUN = (CONFIG, HISTORY, SUMMARY, CHECKPOINTS)

# Config keys that say where things are or how fast they run, not what is computed:
# resuming a run with other values of these gives the same run.
RESUMABLE_KEYS = ('data.data_dir', 'data.prefetch', 'compilation_cache_dir', 'checkpoint.keep',
                  'distributed', 'measure_throughput')
# What each host of a multi-host job may set for itself: where it reads its copy of the
# data and keeps its caches. Every other key must be the same on every host.
PER_HOST_KEYS = ('data.path', 'data.data_dir', 'data.prefetch', 'compilation_cache_dir')


PathLike = str | os.PathLike


def path(workdir: PathLike) -> epath.Path:
  """`workdir` as an epath.Path: absolute if local, as given if remote (gs://...)."""
  p = epath.Path(workdir)
  return p if is_remote(p) else p.expanduser().resolve()


def is_remote(p: PathLike) -> bool:
  """Whether `p` names a file system other than the local one (a URI such as gs://)."""
  return '://' in os.fspath(p)


def file(workdir: PathLike, name: str) -> epath.Path:
  """The path of `name` (one of the names above) in `workdir`."""
  return path(workdir) / name


def depth_path(workdir: PathLike, depth: int) -> epath.Path:
  return file(workdir, CHECKPOINTS) / f'depth_{depth:02d}'


def optimal_path(workdir: PathLike) -> epath.Path:
  return file(workdir, OPTIMAL)


def model_info_path(workdir: PathLike) -> epath.Path:
  return optimal_path(workdir) / MODEL_INFO


def model_card_path(workdir: PathLike) -> epath.Path:
  return optimal_path(workdir) / MODEL_CARD


def holds_run(workdir: PathLike) -> bool:
  """Whether `workdir` holds (part of) a run of odn_jax."""
  return any(file(workdir, name).exists() for name in MARKS_A_RUN)


def depth_tags(workdir: PathLike) -> dict[int, epath.Path]:
  """{depth: path} of the best weights saved when each depth converged."""
  root = file(workdir, CHECKPOINTS)
  names = [p.name for p in root.iterdir()] if root.is_dir() else []
  depths = sorted(int(n[6:]) for n in names if n.startswith('depth_') and n[6:].isdigit())
  return {d: depth_path(workdir, d) for d in depths}


# --------------------------------------------------------------------------- writing

def is_writer() -> bool:
  """Whether this process writes the workdir's files (process 0 of a multi-host job)."""
  return jax.process_index() == 0


def sync(name: str):
  """Every host waits here until all have arrived (nothing to wait for on one host)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(name)


def write_file(target: PathLike, write: Callable[[epath.Path], None]):
  """The file `write(tmp)` writes at a temporary path (an epath.Path), renamed to `target`;
  process 0 only."""
  if not is_writer():
    return
  target = epath.Path(target)
  tmp = target.with_name(target.name + '.tmp')
  write(tmp)
  tmp.replace(target)  # a file that exists is complete


def write_text(target: PathLike, text: str):
  write_file(target, lambda tmp: tmp.write_text(text))


def write_bytes(target: PathLike, blob: bytes):
  write_file(target, lambda tmp: tmp.write_bytes(blob))


def write_json(target: PathLike, value):
  write_text(target, json.dumps(value, indent=1))


def write_folder(target: PathLike, write: Callable[[epath.Path], None],
                 collective: bool = False):
  """Replaces the folder `path` by what `write(tmp)` puts in a fresh folder `tmp`.

  With `collective`, every host calls `write` (Orbax's savers coordinate the hosts
  themselves and write once); otherwise process 0 alone does. Either way only process 0
  clears `tmp` and publishes it, and every host returns once it is published.
  """
  target = path(target)
  tmp = target.with_name(target.name + '.tmp')
  if is_writer():
    tmp.rmtree(missing_ok=True)
  sync(f'clear {tmp}')
  if collective or is_writer():
    write(tmp)
  if is_writer():
    target.rmtree(missing_ok=True)
    tmp.rename(target)
  sync(f'publish {target}')


# --------------------------------------------------------------------------- reading

class RunFileError(UserError, ValueError):
  """A file of a run that exists but cannot be read (cut short, emptied, edited)."""


_FIXES = {CONFIG: 'delete it and rerun launch/train.py with the run\'s --config and --workdir: '
                  'it is written again once the checkpoints agree with the config'}


def read_json(source: PathLike):
  """The JSON value in `source`: the low-level read under `odn_jax.run.record_files`, which
  reads history.json, summary.json and model.json as typed records. A RunFileError naming
  the file and the fix if it is not JSON (cut short by a full disk, emptied, edited)."""
  source = epath.Path(source)
  try:
    return json.loads(source.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    where = f' at line {e.lineno} column {e.colno}' if hasattr(e, 'lineno') else ''
    reason = 'empty' if not source.stat().length else f'not valid JSON{where}'
    fix = _FIXES.get(source.name, 'restore it from a copy or delete it')
    error = RunFileError(f'{source} cannot be read ({reason}: cut short or edited); {fix}')
    error.reason = reason
    raise error from None


def read_json_if_exists(source: PathLike, default=None):
  source = epath.Path(source)
  return read_json(source) if source.is_file() else default


def load_config(workdir: PathLike) -> ml_collections.ConfigDict:
  """The config a run was started with."""
  source = file(workdir, CONFIG)
  if not source.is_file():
    raise NotFoundError(f'{source} does not exist; pass the --workdir of a training run')
  from odn_jax.run import records  # pylint: disable=g-import-not-at-top  # reads through here
  return ml_collections.ConfigDict(records.upgrade('config', read_json(source)))


# --------------------------------------------------------------------------- starting a run

def flatten(tree: dict, prefix: str = '') -> dict:
  """{'a': {'b': 1}} -> {'a.b': 1}: a config as JSON, by dotted key."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(flatten(value, f'{prefix}{key}.'))
    else:
      flat[f'{prefix}{key}'] = value
  return flat


def config_differences(saved: dict, current: dict,
                       ignore: tuple[str, ...] = RESUMABLE_KEYS) -> list[str]:
  """Dotted keys (e.g. 'search.patience') whose values differ between two configs as
  JSON dicts, leaving out the keys of `ignore`; a key only one config has differs."""
  saved, current = flatten(saved), flatten(current)
  return sorted(k for k in set(saved) | set(current)
                if k not in ignore and saved.get(k, KeyError) != current.get(k, KeyError))
