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
"""

import json
import os
import shutil
from typing import Callable

import jax
import ml_collections

from odn_jax.errors import ConfigError, NotFoundError

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


def file(workdir: str, name: str) -> str:
  """The path of `name` (one of the names above) in `workdir`."""
  return os.path.join(os.path.abspath(workdir), name)


def depth_path(workdir: str, depth: int) -> str:
  return os.path.join(file(workdir, CHECKPOINTS), f'depth_{depth:02d}')


def optimal_path(workdir: str) -> str:
  return file(workdir, OPTIMAL)


def model_card_path(workdir: str) -> str:
  return os.path.join(optimal_path(workdir), MODEL_CARD)


def depth_tags(workdir: str) -> dict[int, str]:
  """{depth: path} of the best weights saved when each depth converged."""
  root = file(workdir, CHECKPOINTS)
  names = os.listdir(root) if os.path.isdir(root) else []
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


def write_file(path: str, write: Callable[[str], None]):
  """The file `write(tmp)` writes at a temporary path, renamed to `path`; process 0 only."""
  if not is_writer():
    return
  tmp = path + '.tmp'
  write(tmp)
  os.replace(tmp, path)  # a file that exists is complete


def write_text(path: str, text: str):
  def write(tmp):
    with open(tmp, 'w') as f:
      f.write(text)

  write_file(path, write)


def write_json(path: str, value):
  write_text(path, json.dumps(value, indent=1))


def write_folder(path: str, write: Callable[[str], None], collective: bool = False):
  """Replaces the folder `path` by what `write(tmp)` puts in a fresh folder `tmp`.

  With `collective`, every host calls `write` (Orbax's savers coordinate the hosts
  themselves and write once); otherwise process 0 alone does. Either way only process 0
  clears `tmp` and publishes it, and every host returns once it is published.
  """
  path = os.path.abspath(path)
  tmp = path + '.tmp'
  if is_writer():
    shutil.rmtree(tmp, ignore_errors=True)
  sync(f'clear {tmp}')
  if collective or is_writer():
    write(tmp)
  if is_writer():
    shutil.rmtree(path, ignore_errors=True)
    os.rename(tmp, path)
  sync(f'publish {path}')


# --------------------------------------------------------------------------- reading

def read_json(path: str):
  with open(path) as f:
    return json.load(f)


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run was started with."""
  path = file(workdir, CONFIG)
  if not os.path.isfile(path):
    raise NotFoundError(f'{path} does not exist; pass the --workdir of a training run')
  return ml_collections.ConfigDict(read_json(path))


def load_summary(workdir: str) -> dict:
  path = file(workdir, SUMMARY)
  if not os.path.isfile(path):
    raise NotFoundError(f'{path} does not exist: the run in {workdir} has not finished (its '
                        f'{HISTORY} has every epoch so far; rerun launch/train.py to finish it)')
  return read_json(path)


def load_history(workdir: str) -> list[dict]:
  path = file(workdir, HISTORY)
  return read_json(path) if os.path.isfile(path) else []


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


def prepare(config: ml_collections.ConfigDict, workdir: str) -> dict | None:
  """Creates `workdir`, or checks that it holds a run of this config; returns the summary
  of a finished run (None otherwise)."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ConfigError(f'workdir {workdir} is a file; pass a directory')
  if is_writer():
    os.makedirs(workdir, exist_ok=True)
  sync(f'create {os.path.abspath(workdir)}')
  if not os.access(workdir, os.W_OK):
    raise ConfigError(f'workdir {workdir} is not writable; pass a directory you can write')
  config_file = file(workdir, CONFIG)
  current = json.loads(config.to_json())
  saved = read_json(config_file) if os.path.exists(config_file) else None
  checkpoints = file(workdir, CHECKPOINTS)
  trained = os.path.isdir(checkpoints) and bool(os.listdir(checkpoints))
  if saved is not None and trained:  # a config whose run never trained is simply replaced
    differ = config_differences(saved, current)
    if differ:
      raise ConfigError(f'workdir {workdir} holds a run of another config (differs in '
                        f'{", ".join(differ)}); use a new --workdir or --fresh to start over')
  if saved != current:  # new, or moved (a new data_dir): what evaluate.py will read
    write_text(config_file, config.to_json(indent=1))
  summary_file = file(workdir, SUMMARY)
  return read_json(summary_file) if os.path.exists(summary_file) else None
