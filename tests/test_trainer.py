"""The whole method end to end on the quickstart config, and exact resumption."""

import json
import os
import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from odn_jax import data, models, search
from odn_jax.deploy import subnet as subnet_lib
from odn_jax.results import evaluation
from odn_jax.run import checkpoint, record_files, workdir as workdir_lib
from odn_jax.train import epoch as epoch_lib, loop as trainer, state as state_lib, steps as steps_lib

from conftest import quickstart_config, smoke_config

ROOT = Path(__file__).resolve().parents[1]

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
    assert os.path.isdir(workdir_lib.depth_path(workdir, depth))


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
  variables, info = subnet_lib.load(workdir)
  depth = info.depth
  assert depth == summary['optimal_depth']
  assert f'block_{depth + 1:02d}' not in variables['params']
  ds = data.load(config)
  model = models.from_info(info)
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


@pytest.mark.slow
def test_resumed_run_equals_uninterrupted_run(tiny_run, tmp_path):
  config, _, summary = tiny_run
  workdir = str(tmp_path / 'run')
  # Stop once the first depth has converged and the second has begun.
  stopped = trainer.train_and_evaluate(
      config, workdir, quiet=True, should_stop=lambda h: len({r['depth'] for r in h if r['phase'] != 'warmup'}) >= 2)
  assert stopped is None
  assert not os.path.exists(os.path.join(workdir, 'summary.json'))
  assert os.path.isdir(workdir_lib.depth_path(workdir, 1))
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


def test_smoke_every_phase_in_seconds(tmp_path):
  # The whole method at its smallest: warm-up, growth, fine-tuning, extraction, report.
  summary = trainer.train_and_evaluate(smoke_config(), str(tmp_path), quiet=True)
  assert SUMMARY_KEYS <= set(summary)
  history = record_files.load_history(str(tmp_path))
  # Depth 2 is the deepest allowed: the fine-tune flag is set as the search grows into it.
  assert [(h['phase'], h['depth']) for h in history] == [
      ('warmup', 2), ('grow', 1), ('finetune', 2)]
  assert summary['optimal_depth'] == 2 and summary['epochs_total'] == 3
  assert summary['early_exit'][-1]['accuracy'] == summary['test_accuracy']
  for name in (workdir_lib.REPORT, workdir_lib.CONFIG, workdir_lib.SUMMARY):
    assert os.path.isfile(workdir_lib.file(str(tmp_path), name)), name
  assert sorted(workdir_lib.depth_tags(str(tmp_path))) == [1, 2]
  assert not [p for p in Path(tmp_path).rglob('*.tmp')]  # every write published
  # The subnet's early exit (head 1) was trained again on the final trunk; the trunk and
  # head 2 are the search's, as the latest checkpoint holds them.
  subnet, info = subnet_lib.load(str(tmp_path))
  searched = checkpoint.restore_full_variables(str(tmp_path))
  assert info.early_exit_epochs == 2 and summary['early_exit_epochs'] == 2
  for key in ('stem', 'block_01', 'block_02', 'head_02'):
    chex.assert_trees_all_equal(subnet['params'][key], searched['params'][key])
  assert not np.array_equal(subnet['params']['head_01']['Dense_0']['kernel'],
                            searched['params']['head_01']['Dense_0']['kernel'])


def test_half_precision_run_is_evaluated_as_it_was_measured(tmp_path):
  config = smoke_config()
  config.half_precision = True
  config.early_exit_epochs = 0  # and no early exits: the subnet keeps its last head alone
  workdir = str(tmp_path)
  summary = trainer.train_and_evaluate(config, workdir, quiet=True)
  subnet, info = subnet_lib.load(workdir)
  assert info.dtype == 'bfloat16'  # in optimal/model.json
  assert models.heads_held(subnet['params'], 2) == [2] and 'early_exit' not in summary
  assert evaluation.load_run(workdir).model.dtype == jnp.bfloat16
  out = subprocess.run([sys.executable, str(ROOT / 'launch/evaluate.py'), f'--workdir={workdir}',
                        '--json'], capture_output=True, text=True, check=False, cwd=ROOT,
                       timeout=600)
  assert out.returncode == 0, out.stderr[-2000:]
  heads = json.loads(out.stdout)['heads']
  assert heads[-1] == {'depth': 2, 'accuracy': pytest.approx(summary['test_accuracy'], abs=1e-9)}


def test_epoch_cap_during_warmup_reports_and_resumes(tmp_path):
  config = smoke_config()
  config.warmup.epochs = 2
  config.search.max_epochs_total = 1  # the search ends inside the warm-up
  workdir = str(tmp_path)
  summary = trainer.train_and_evaluate(config, workdir, quiet=True)
  assert summary['epochs_total'] == 1 and summary['per_depth'] == []
  assert 'epoch cap' in summary['stop_reason']
  # The warm-up's weights are what was kept: their validation accuracy at that depth.
  history = record_files.load_history(workdir)
  assert summary['val_accuracy'] == history[-1]['val_accuracy_per_head'][
      summary['optimal_depth'] - 1]
  assert os.path.isfile(workdir_lib.file(workdir, workdir_lib.REPORT))
  # Its last checkpoint stands at the end of the search: a run that stopped before writing
  # its summary resumes there, and extracts and tests the same subnet.
  os.remove(workdir_lib.file(workdir, workdir_lib.SUMMARY))
  resumed = trainer.train_and_evaluate(config, workdir, quiet=True)
  for key in ('optimal_depth', 'val_accuracy', 'test_accuracy', 'epochs_total', 'early_exit'):
    assert resumed[key] == summary[key], key


@pytest.mark.parametrize('init', ['warmup', 'trained'])
def test_checkpoint_holds_what_resuming_needs(init, tmp_path):
  config = smoke_config()
  config.grow.init = init
  model = models.from_config(config, 10)
  tx = steps_lib.make_optimizer(config.optim)
  params, state = model.init(jax.random.key(0), (8, 8, 1))
  run = state_lib.RunState(config, model, tx, {'params': params, 'state': state}, 1)
  shapes = lambda tree: jax.tree.map(lambda x: (x.shape, x.dtype), tree)
  for plan in (search.Plan(search.GROW, 1, 0.1), search.Plan(search.DONE, 1, 0.0)):
    run.move_to(plan, str(tmp_path))
    saved = run.tree()
    # The warm-up's weights only where growth reloads them; nothing that trains once done.
    assert set(saved) == ({'variables'} if plan.done else {'variables', 'ts', 'best', 'metrics'}
                          ) | ({'warmup'} if init == 'warmup' else set())
    # The template resuming restores into: the same shapes, from shapes alone.
    template = run.template(plan)
    assert all(isinstance(x, jax.ShapeDtypeStruct) for x in jax.tree.leaves(template))
    assert shapes(template) == shapes(saved)
