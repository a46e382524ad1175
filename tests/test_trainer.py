"""The whole method end to end on the quickstart config, and exact resumption."""

import json
import os

import pytest

from odn_jax import checkpoint, data, search, trainer
from odn_jax.train import epoch as epoch_lib
from odn_jax.train import steps as steps_lib

from conftest import quickstart_config

SUMMARY_KEYS = {
    'dataset', 'arch', 'max_depth', 'optimal_depth', 'target_accuracy', 'tolerance',
    'val_accuracy', 'test_accuracy', 'params_optimal', 'params_full', 'memory_reduction_pct',
    'flops_optimal', 'flops_full', 'per_depth', 'epochs_total', 'wall_clock_s', 'num_devices',
    'seed'}


def test_quickstart_finds_a_shallow_accurate_subnet(quickstart_run):
  _, workdir, summary = quickstart_run
  assert SUMMARY_KEYS <= set(summary)
  assert summary['optimal_depth'] < summary['max_depth']
  assert summary['test_accuracy'] >= 90.0
  assert summary['params_optimal'] < summary['params_full']
  assert {'depth', 'epochs', 'best_val_accuracy', 'params', 'bytes', 'flops'} <= set(
      summary['per_depth'][0])
  with open(os.path.join(workdir, 'summary.json')) as f:
    assert json.load(f) == summary
  depths = [r['depth'] for r in summary['per_depth']]
  assert depths == list(range(1, summary['optimal_depth'] + 1))
  for depth in depths:
    assert os.path.isdir(checkpoint.depth_path(workdir, depth))


def test_summary_accounts_compilation_per_depth(quickstart_run):
  _, workdir, summary = quickstart_run
  with open(os.path.join(workdir, 'history.json')) as f:
    finetuned = any(h['phase'] == 'finetune' for h in json.load(f))
  rows = summary['compile']
  assert [(r['phase'], r['depth']) for r in rows] == (
      [('warmup', summary['max_depth'])]
      + [('grow', d) for d in range(1, summary['optimal_depth'] + 1)]
      + [('finetune', summary['optimal_depth'])] * finetuned)
  # Each new depth compiles its train and eval steps; fine-tuning reuses the grown depth's.
  assert all(0 < r['compile_s'] < r['epochs_s'] for r in rows if r['phase'] != 'finetune')
  assert sum(r['epochs_s'] for r in rows) <= summary['wall_clock_s']


def test_extracted_subnet_alone_reproduces_the_test_accuracy(quickstart_run):
  config, workdir, summary = quickstart_run
  variables, info = checkpoint.load_variables(checkpoint.optimal_path(workdir))
  depth = info['depth']
  assert depth == summary['optimal_depth']
  assert f'block_{depth + 1:02d}' not in variables['params']
  ds = data.load(config)
  model = trainer.build_model(config, info['num_classes'])
  steps = steps_lib.make_steps(model, steps_lib.make_optimizer(config.optim))
  accuracy = epoch_lib.evaluate(steps.eval, variables['params'], variables['state'],
                                ds.eval_batches('test'), depth)
  assert float(accuracy[-1]) == pytest.approx(summary['test_accuracy'], abs=1e-9)


def test_finished_workdir_is_reported_not_retrained(quickstart_run):
  config, workdir, summary = quickstart_run
  assert trainer.train_and_evaluate(config, workdir, quiet=True) == summary
  other = quickstart_config()
  other.search.target = 50.0
  with pytest.raises(ValueError, match='another config'):
    trainer.train_and_evaluate(other, workdir, quiet=True)


def test_resumed_run_equals_uninterrupted_run(quickstart_run, tmp_path):
  config, _, summary = quickstart_run
  workdir = str(tmp_path / 'run')
  # Stop once the first depth has converged and the second has begun.
  stopped = trainer.train_and_evaluate(
      config, workdir, quiet=True, should_stop=lambda h: len({r['depth'] for r in h if r['phase'] != 'warmup'}) >= 2)
  assert stopped is None
  assert not os.path.exists(os.path.join(workdir, 'summary.json'))
  assert os.path.isdir(checkpoint.depth_path(workdir, 1))
  resumed = trainer.train_and_evaluate(config, workdir, quiet=True)
  for key in ('optimal_depth', 'test_accuracy', 'val_accuracy', 'epochs_total', 'per_depth'):
    assert resumed[key] == summary[key], key


def test_bad_config_values_are_refused(tmp_path):
  config = quickstart_config()
  config.search.target = 120.0
  with pytest.raises(ValueError, match='target'):
    trainer.train_and_evaluate(config, str(tmp_path / 'a'), quiet=True)
  config = quickstart_config()
  config.grow.init = 'zeros'
  with pytest.raises(ValueError, match='grow.init'):
    trainer.train_and_evaluate(config, str(tmp_path / 'b'), quiet=True)
