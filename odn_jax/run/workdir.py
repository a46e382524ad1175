"""The layout of a run's workdir, and the one way files are written into it.

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

from odn_jax.errors import ConfigError, NotFoundError
from odn_jax.run import parallel

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

def read_json(source: PathLike):
  """The JSON in `source`: the low-level read under `odn_jax.run.record_files`, which reads
  history.json, summary.json and model.json as typed records."""
  return json.loads(epath.Path(source).read_text())


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


def prepare(config: ml_collections.ConfigDict, workdir: PathLike) -> dict | None:
  """Creates `workdir`, or checks that it holds a run of this config; returns the summary
  of a finished run as summary.json holds it (None otherwise)."""
  root = path(workdir)
  text = config.to_json()
  current, first = json.loads(text), json.loads(parallel.from_process_0(text))
  # Every host checks, and all stop at once if any finds the workdir unusable.
  with parallel.agreed():
    differ = config_differences(first, current, ignore=PER_HOST_KEYS)
    if differ:
      raise ConfigError(f'this host was started with another config than host 0 (differs in '
                        f'{", ".join(differ)}); start every host with the same flags')
    if root.exists() and not root.is_dir():
      raise ConfigError(f'workdir {workdir} is a file; pass a directory')
  if is_writer():
    root.mkdir(parents=True, exist_ok=True)
  sync(f'create {root}')
  config_file = file(workdir, CONFIG)
  with parallel.agreed():
    # Remote file systems answer permissions at the first write, with their own message.
    if not is_remote(root) and not os.access(root, os.W_OK):
      raise ConfigError(f'workdir {workdir} is not writable; pass a directory you can write')
    saved = read_json_if_exists(config_file)
    if saved is not None:  # with the keys added since it was written, as its run had them
      from odn_jax.run import records  # pylint: disable=g-import-not-at-top
      saved = records.upgrade('config', saved)
    checkpoints = file(workdir, CHECKPOINTS)
    trained = checkpoints.is_dir() and any(True for _ in checkpoints.iterdir())
    if saved is not None and trained:  # a config whose run never trained is simply replaced
      differ = config_differences(saved, current)
      if differ:
        raise ConfigError(f'workdir {workdir} holds a run of another config (differs in '
                          f'{", ".join(differ)}); use a new --workdir or --fresh to start over')
  if saved != current:  # new, or moved (a new data_dir): what evaluate.py will read
    write_text(config_file, config.to_json(indent=1))
  # record_files reads through this module: imported here, not above it.
  from odn_jax.run import record_files  # pylint: disable=g-import-not-at-top
  return record_files.load_summary_as_written(workdir)
