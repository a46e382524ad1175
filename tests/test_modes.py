"""The search modes end to end on the quickstart config."""

import pytest

from odn_jax.models import ResNet, size
from odn_jax.train import loop as trainer

from conftest import quickstart_config, tiny_config

pytestmark = pytest.mark.slow  # each runs a whole search


def test_saturation_mode_needs_no_target(tmp_path):
  config = quickstart_config()
  config.search.mode = 'saturation'
  config.search.target = 100.0  # unreachable: the target rule would grow to the maximum
  config.search.min_gain = 1.0  # points; 8x8 digits gain less than that past a few blocks
  config.measure_throughput = False  # seconds of timing, not read here
  summary = trainer.train_and_evaluate(config, str(tmp_path), quiet=True)
  assert summary['search_mode'] == 'saturation'
  assert summary['optimal_depth'] < summary['max_depth']
  best = {row['depth']: row['best_val_accuracy'] for row in summary['per_depth']}
  # Growth stopped where the last depth gained less than min_gain over the one before.
  deepest = max(best)
  assert deepest == 1 or best[deepest] - best[deepest - 1] < config.search.min_gain
  assert summary['test_accuracy'] >= 90.0
  assert summary['stop_reason'].startswith('fine-tuned')


def test_budget_that_allows_only_depth_one_returns_depth_one(tmp_path):
  config = tiny_config()  # what the budget allows, not how well depth 1 learns, is tested
  config.search.max_epochs_total = 0
  config.measure_throughput = False
  rows = size.depth_table(ResNet('resnet18', 10, config.model.width), (8, 8, 1), flops=False)
  config.search.mode = 'budget'
  config.search.budget.params = rows[1]['params'] - 1  # depth 2 does not fit
  config.search.target = 100.0
  summary = trainer.train_and_evaluate(config, str(tmp_path), quiet=True)
  assert summary['optimal_depth'] == 1
  assert [row['depth'] for row in summary['per_depth']] == [1]
  assert summary['params_optimal'] <= config.search.budget.params
  assert len(summary['warmup_profile']) == summary['max_depth']
