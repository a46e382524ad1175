"""The paper configs decide exactly as the authors' notebooks do, epoch by epoch.

`notebook_rules.notebook_search` transcribes the notebooks' `train_till_convergence`; the
controller (`odn_jax.search`) is run on the same validation accuracies and must agree on
every epoch's depth, phase (the fine-tune flag) and learning rate, on the epoch whose
weights are kept, and on the epoch the search stops. Two sources of accuracies:
- the notebooks' own saved logs (MNIST, Fashion-MNIST, SVHN; tests/data/notebook_logs.json:
  depth and validation accuracy of every epoch as printed). Those runs came from a version
  of the cell that kept the best accuracy across expansions: `reset_best_on_expansion=False`;
- a few hundred synthetic curves per paper config, ending at depth 1, in the middle and at
  the maximum depth, with both settings of `reset_best_on_expansion`.
"""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from odn_jax import search

import helpers
from notebook_rules import notebook_search

ROOT = Path(__file__).resolve().parents[1]
LOGS = json.loads((ROOT / 'tests' / 'data' / 'notebook_logs.json').read_text())
# config name -> validation examples in the notebook's split
PAPER = {'mnist': 10_000, 'emnist': 10_000, 'fashion_mnist': 10_000, 'svhn': 5_000,
         'cifar10': 5_000}


def paper_config(name):
  spec = importlib.util.spec_from_file_location(name, ROOT / 'configs' / f'{name}.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def controller_search(config, val_correct, val_total: int, max_epochs: int = 5000):
  """Runs the controller on `val_correct(epoch, depth, epochs_at_depth)`: one record per
  epoch after warm-up, shaped like the notebook's, and the position it ended at."""
  fold = search.Fold(config)
  for epoch in range(config.warmup.epochs):
    fold.push({'phase': search.WARMUP, 'depth': fold.plan.depth, 'val_accuracy': 10.0,
               'learning_rate': fold.plan.learning_rate})
  records, at_depth, epoch = [], 0, 0
  while fold.plan.phase != search.DONE:
    assert epoch < max_epochs, 'the controller never stopped'
    plan = fold.plan
    if records and plan.depth != records[-1]['depth']:
      at_depth = 0
    correct = val_correct(epoch, plan.depth, at_depth)
    records.append({'depth': plan.depth, 'fine_tune': plan.phase == search.FINETUNE,
                    'learning_rate': plan.learning_rate})
    fold.push({'phase': plan.phase, 'depth': plan.depth, 'val_correct': correct,
               'val_count': val_total, 'val_accuracy': 100.0 * correct / val_total})
    at_depth += 1
    epoch += 1
  return records, fold.position


def assert_same_search(config, val_correct, val_total):
  expected = notebook_search(
      val_correct, val_total, config.search.target, config.search.tolerance,
      search.max_depth(config), config.search.learning_rate, config.search.expansion_lr_scale,
      reset_best=config.search.reset_best_on_expansion)
  got, position = controller_search(config, val_correct, val_total)
  assert len(got) == len(expected), 'stopped at another epoch'
  for epoch, (g, e) in enumerate(zip(got, expected), 1):
    assert (g['depth'], g['fine_tune']) == (e['depth'], e['fine_tune']), f'epoch {epoch}'
    assert math.isclose(g['learning_rate'], e['learning_rate'], rel_tol=1e-12), f'epoch {epoch}'
  assert position.plan.depth == expected[-1]['depth']
  if config.search.reset_best_on_expansion:  # the notebook saves at every improvement
    last_saved = max(i for i, r in enumerate(expected) if r['improved'])
    kept = position.kept[position.plan.depth] - config.warmup.epochs
    assert kept == last_saved
  return expected


@pytest.mark.parametrize('name', sorted(LOGS))
def test_recorded_notebook_runs_are_replayed_decision_for_decision(name):
  log = LOGS[name]
  config = paper_config({'mnist': 'mnist', 'fashionmnist': 'fashion_mnist',
                         'svhn': 'svhn'}[name])
  config.search.reset_best_on_expansion = False  # the cell that produced the saved logs
  assert (config.search.target, config.search.tolerance, config.search.learning_rate) == (
      log['target'], log['tolerance'], log['learning_rate'])
  assert search.max_depth(config) == log['max_depth']
  val_correct = lambda epoch, depth, at_depth: log['val_correct'][epoch]
  got, position = controller_search(config, val_correct, log['val_total'])
  assert [r['depth'] for r in got] == log['depths']
  assert len(got) == log['stop_epoch']
  decays = [i for i in range(1, len(got)) if got[i]['learning_rate'] < got[i - 1]['learning_rate']
            and got[i]['depth'] == got[i - 1]['depth']]
  assert decays == log['lr_decay_epochs'][:len(decays)]  # the epoch after each printed decay
  assert [i for i in range(1, len(got)) if got[i]['fine_tune'] and not got[i - 1]['fine_tune']
          ] == [log['finetune_flag_epoch']]
  assert position.plan.depth == log['depths'][-1]
  # The transcription agrees with the same log (so the two are compared on real data too).
  assert_same_search(config, val_correct, log['val_total'])


def synthetic_curves(seed: int, max_depth: int, goal: float, val_total: int):
  """val_correct(epoch, depth, epochs_at_depth) of a search whose plateau crosses the goal
  at a random depth (1 .. max_depth, or never), noisy and saturating within each depth."""
  rng = np.random.default_rng(seed)
  crossing = int(rng.integers(1, max_depth + 2))
  step = rng.uniform(0.2, 2.0)
  plateaus = goal + 0.3 + step * (np.arange(1, max_depth + 1) - crossing) * (
      np.arange(1, max_depth + 1) < crossing)
  plateaus = np.where(np.arange(1, max_depth + 1) < crossing, plateaus - 0.4, plateaus)
  tau = rng.uniform(1.0, 12.0)
  noise = rng.uniform(0.02, 0.6)
  start = rng.uniform(20.0, goal - 5.0)
  table = {}

  def val_correct(epoch, depth, at_depth):
    key = (depth, at_depth)
    if key not in table:
      mean = plateaus[depth - 1] - (plateaus[depth - 1] - start) * math.exp(-at_depth / tau)
      accuracy = float(np.clip(mean + noise * rng.standard_normal(), 0.0, 100.0))
      table[key] = int(round(accuracy / 100.0 * val_total))
    return table[key]

  return val_correct


@pytest.mark.parametrize('reset_best', [True, False])
@pytest.mark.parametrize('name', sorted(PAPER))
def test_controller_equals_the_notebook_on_synthetic_searches(name, reset_best):
  config = paper_config(name)
  config.search.reset_best_on_expansion = reset_best
  goal = config.search.target - config.search.tolerance
  final_depths = set()
  for seed in range(24):
    curves = synthetic_curves(seed, search.max_depth(config), goal, PAPER[name])
    expected = assert_same_search(config, curves, PAPER[name])
    final_depths.add(expected[-1]['depth'])
  # The curves exercise the ends and the middle of the search.
  assert 1 in final_depths and search.max_depth(config) in final_depths
  assert len(final_depths) >= 4


def test_rounding_is_done_on_the_counts_as_the_notebook_does():
  # 8735 / 10000: (c / n) * 100 = 87.35000000000001 rounds to 87.4 (the notebook),
  # 100 * c / n = 87.35 rounds to 87.3.
  assert round((8735 / 10000) * 100, 1) == 87.4 and round(100 * 8735 / 10000, 1) == 87.3
  record = {'val_correct': 8735, 'val_count': 10000, 'val_accuracy': 100 * 8735 / 10000}
  assert search.rounded_accuracy(record, 1) == 87.4


def test_paper_configs_have_no_epoch_caps_and_start_as_the_notebooks():
  for name in PAPER:
    config = paper_config(name)
    assert config.search.max_epochs_per_depth == 0 and config.search.max_epochs_total == 0
    assert config.grow.init == 'warmup' and config.precise_bn_batches == 0
    assert config.search.patience == 23 and config.search.min_delta == 0
    assert config.search.finetune_learning_rate is None
    plan = helpers.next_plan([], config)
    if name == 'cifar10':
      assert (plan.phase, plan.depth, plan.learning_rate) == (search.GROW, 1, 0.01)
    else:
      rates = []
      history = []
      while plan.phase == search.WARMUP:
        rates.append(plan.learning_rate)
        history.append({'phase': 'warmup', 'depth': plan.depth, 'val_accuracy': 10.0})
        plan = helpers.next_plan(history, config)
      peak = config.warmup.learning_rate
      np.testing.assert_allclose(rates, [peak, 0.75 * peak, 0.25 * peak])
      assert (plan.phase, plan.depth) == (search.GROW, 1)
