"""Never lose a run: preemption, SIGKILL, non-finite losses and bad input, via the real CLI."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CACHE_FLAG, quickstart_config

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / 'configs/quickstart.py')
# The quickstart's method, small: 8 epochs (warm-up, depths 1 and 2 three each, depth 3 one)
# of batches of 16, so a signal after the 4th epoch lands in training with epochs to go.
SMALL = (('model.width', 4), ('batch_size', 16), ('precise_bn_batches', 2),
         ('warmup.epochs', 1), ('search.target', 100.0), ('search.max_epochs_per_depth', 3),
         ('search.max_epochs_total', 8), ('early_exit_epochs', 1),
         ('measure_throughput', False))


def train_cmd(workdir, *overrides):
  return [sys.executable, str(ROOT / 'launch/train.py'), f'--config={QUICKSTART}',
          f'--workdir={workdir}', CACHE_FLAG, *(f'--config.{k}={v}' for k, v in SMALL),
          *overrides]


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  """The summary of the run train_cmd starts, trained in one go (in this process)."""
  from odn_jax.train import loop as trainer  # pylint: disable=g-import-not-at-top
  config = quickstart_config()
  for key, value in SMALL:
    *parents, name = key.split('.')
    node = config
    for parent in parents:
      node = node[parent]
    node[name] = value
  return trainer.train_and_evaluate(config, str(tmp_path_factory.mktemp('uninterrupted')),
                                    quiet=True)


def train(workdir, *overrides, timeout=600):
  return subprocess.run(train_cmd(workdir, *overrides), capture_output=True, text=True,
                        timeout=timeout, check=False, cwd=ROOT)


def epochs_done(workdir) -> int:
  try:
    with open(os.path.join(workdir, 'history.json')) as f:
      return len(json.load(f))
  except (FileNotFoundError, json.JSONDecodeError):
    return 0


def interrupt_after(workdir, epochs: int, sig) -> int:
  """Starts a run, sends `sig` once `epochs` epochs are recorded, returns the exit status."""
  process = subprocess.Popen(train_cmd(workdir), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, cwd=ROOT)
  deadline = time.time() + 300
  while epochs_done(workdir) < epochs and process.poll() is None and time.time() < deadline:
    time.sleep(0.2)
  time.sleep(0.3)  # land somewhere inside the next epoch
  process.send_signal(sig)
  return process.wait(timeout=300)


def final_summary(workdir):
  with open(os.path.join(workdir, 'summary.json')) as f:
    return json.load(f)


SAME = ('optimal_depth', 'test_accuracy', 'val_accuracy', 'epochs_total', 'per_depth')


@pytest.mark.slow  # two runs each, and the one they are compared with
@pytest.mark.parametrize('sig,status', [(signal.SIGTERM, 75), (signal.SIGKILL, -9)])
def test_interrupted_run_resumes_to_the_same_summary(uninterrupted, tmp_path, sig, status):
  summary = uninterrupted
  workdir = str(tmp_path / 'run')
  assert interrupt_after(workdir, 4, sig) == status
  assert not os.path.exists(os.path.join(workdir, 'summary.json'))
  out = train(workdir)
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'resumed' in out.stdout
  resumed = final_summary(workdir)
  for key in SAME:
    assert resumed[key] == summary[key], key


@pytest.mark.slow
def test_non_finite_loss_stops_with_the_last_checkpoint_intact(tmp_path):
  workdir = str(tmp_path / 'nan')
  out = train(workdir, '--config.warmup.learning_rate=1e30')
  assert out.returncode == 3, out.stderr[-2000:]
  assert 'training loss is nan' in out.stderr or 'training loss is inf' in out.stderr
  assert 'Traceback' not in out.stderr
  assert not os.path.exists(os.path.join(workdir, 'summary.json'))


@pytest.mark.parametrize('overrides,message', [
    (['--config.search.target=120'], 'config.search.target must be in (0, 100]'),
    (['--config.search.tolerance=-1'], 'config.search.tolerance must be >= 0'),
    (['--config.model.max_depth=9'], 'config.model.max_depth must be in 1..8'),
    (['--config.batch_size=0'], 'config.batch_size must be >= 1'),
    (["--config.model.arch=resnet19"], "config.model.arch must be one of"),
    (["--config.grow.init=zeros"], 'config.grow.init must be one of'),
    (["--config.data.source=ftp"], 'config.data.source'),
])
def test_bad_values_give_one_line_and_exit_2(tmp_path, overrides, message):
  out = train(str(tmp_path / 'bad'), *overrides)
  assert out.returncode == 2, out.stderr[-2000:]
  last = out.stderr.strip().splitlines()[-1]
  assert last.startswith('error: ') and message in last, last
  assert 'Traceback' not in out.stderr


def test_unknown_config_key_is_named(tmp_path):
  out = train(str(tmp_path / 'bad'), '--config.search.patiense=3')
  assert out.returncode != 0
  assert 'patiense' in out.stderr and 'Traceback' not in out.stderr


def test_workdir_that_is_a_file_is_refused(tmp_path):
  path = tmp_path / 'file'
  path.write_text('not a directory')
  out = train(str(path))
  assert out.returncode == 2 and 'is a file' in out.stderr
  assert path.read_text() == 'not a directory'


def test_finished_run_of_another_config_is_kept(tiny_run_copy):
  _, workdir, _ = tiny_run_copy
  before = Path(workdir, 'summary.json').read_text()
  out = train(workdir, '--config.search.target=50')
  assert out.returncode == 2 and 'holds a run of another config' in out.stderr
  assert Path(workdir, 'summary.json').read_text() == before


@pytest.mark.slow
def test_corrupted_checkpoints_are_refused_not_restarted(tmp_path):
  workdir = tmp_path / 'run'
  assert interrupt_after(str(workdir), 2, signal.SIGKILL) == -9
  steps = sorted(p for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())
  assert steps
  for step in steps:  # every step damaged: nothing to fall back to (test_faults: one damaged)
    for f in step.rglob('*'):
      if f.is_file():
        f.write_bytes(b'garbage')
  out = train(str(workdir))
  assert out.returncode == 2, out.stderr[-2000:]
  assert 'cannot be restored' in out.stderr and '--fresh' in out.stderr
  assert not (workdir / 'summary.json').exists()
