"""A raced search (`search.parallel_depths=4`, one forced CPU device per slot) gives the
sequential search's answer exactly: the same records for every depth it trains, the same
chosen depth, test accuracy and extracted weights; and a race stopped by SIGTERM midway
resumes to the same summary."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from odn_jax.run import checkpoint, record_files, workdir as workdir_lib
from odn_jax.search import race as race_lib
from odn_jax.train import loop as trainer

import race_settings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = [(0, 'paper'), (1, 'fast')]
TIMING = ('seconds', 'compile_s', 'slot', 'round')  # how and when, not what, an epoch trained
RESUMED = TIMING + ('steps',)  # an epoch resumed midway counts the steps trained since


def raced(workdir, seed, schedule, *extra, devices=4):
  env = {**os.environ, 'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices}',
         'JAX_PLATFORMS': 'cpu'}
  return subprocess.run([sys.executable, str(ROOT / 'tests' / 'race_settings.py'), str(workdir),
                         str(seed), schedule, '4', *map(str, extra)], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=900, check=False)


def summary_of(out) -> dict:
  assert out.returncode == 0, out.stderr[-3000:]
  return json.loads(out.stdout.split('SUMMARY ', 1)[1])


def history(workdir):
  return record_files.load_history(workdir)


def what(record, leave_out=TIMING):
  return {k: v for k, v in record.items() if k not in leave_out}


def weights(workdir):
  with ocp.StandardCheckpointer() as checkpointer:
    return checkpointer.restore(workdir_lib.optimal_path(workdir) / workdir_lib.VARIABLES)


@pytest.fixture(scope='module', params=SETTINGS, ids=lambda p: f'{p[1]}-seed{p[0]}')
def both(request, tmp_path_factory):
  """(sequential workdir and summary on this process's one device, the same for the race)."""
  assert jax.device_count() == 1, 'the sequential search runs on one device'
  seed, schedule = request.param
  base = tmp_path_factory.mktemp(f'race_{schedule}_{seed}')
  sequential = trainer.train_and_evaluate(race_settings.config_for(seed, schedule, 1),
                                          str(base / 'sequential'), quiet=True)
  race = summary_of(raced(base / 'raced', seed, schedule))
  return (base / 'sequential', sequential), (base / 'raced', race), request.param


def test_raced_search_trains_every_depth_as_the_sequential_search(both):
  (seq_dir, seq), (race_dir, race), _ = both
  assert len(seq['per_depth']) >= 3  # the setting passes 3 depths
  seq_history, race_history = history(seq_dir), history(race_dir)
  in_search = race_lib.in_search(race_history)
  # every record of every depth the sequential search trains: counts, losses, rates, epochs
  assert [what(r) for r in in_search] == [what(r) for r in seq_history]
  assert all('slot' in r and 'round' in r for r in race_history if r['phase'] != 'warmup')
  speculative = [r for r in race_history if r.get('speculative')]
  assert speculative and all(r['depth'] > seq['optimal_depth'] for r in speculative)
  assert race['race']['runs'][-1]['state'] == 'cancelled'


def test_raced_search_chooses_tests_and_extracts_the_same_subnet(both):
  (seq_dir, seq), (race_dir, race), _ = both
  for key in ('optimal_depth', 'val_accuracy', 'test_accuracy', 'per_depth', 'stop_reason',
              'warmup_profile'):
    assert race[key] == seq[key], key
  assert jax.tree.all(jax.tree.map(np.array_equal, weights(seq_dir), weights(race_dir)))


def test_race_reports_what_it_cost(both):
  (seq_dir, seq), (race_dir, race), _ = both
  assert (seq['parallel_depths'], race['parallel_depths']) == (1, 4)
  searched = seq['epochs_total'] - seq['warmup_epochs']
  assert seq['critical_path_epochs'] == searched
  # the slowest depth up to the answer sets the race's length
  assert race['critical_path_epochs'] == max(r['epochs'] for r in seq['per_depth'])
  assert race['epochs_total'] == seq['epochs_total'] + race['speculative_epochs']
  assert race['training_flops'] > seq['training_flops']
  report = (race_dir / 'report.md').read_text()
  assert '## Race of depths' in report and 'cancelled' in report


def test_race_stopped_by_sigterm_midway_resumes_to_the_same_summary(both, tmp_path):
  (_, _), (race_dir, race), (seed, schedule) = both
  if schedule != 'paper':
    pytest.skip('one resume is enough')
  workdir = tmp_path / 'resumed'
  # warm-up: 8 batches (+2 for BatchNorm); each round 4 slots x (8 + 2): inside round 2
  out = raced(workdir, seed, schedule, 8 + 2 + 40 + 13)
  assert out.returncode == 3 and 'preempted in race round 2' in out.stdout, out.stderr[-3000:]
  mngr = checkpoint.manager(str(workdir))
  meta = checkpoint.restore_meta(mngr, mngr.latest_step())
  mngr.close()
  assert any(meta['race']['epoch_steps'].values())  # saved inside the round's epochs
  resumed = summary_of(raced(workdir, seed, schedule))
  for key in ('optimal_depth', 'val_accuracy', 'test_accuracy', 'per_depth', 'epochs_total',
              'critical_path_epochs', 'training_flops', 'race'):
    assert resumed[key] == race[key], key
  assert ([what(r, RESUMED) for r in history(workdir)]
          == [what(r, RESUMED) for r in history(race_dir)])
  assert jax.tree.all(jax.tree.map(np.array_equal, weights(race_dir), weights(workdir)))
