"""What the trainer does to weights and optimizer when the controller moves on.

The paper's notebooks, on expansion: reload the warm-up weights, a new SGD (zero momentum);
on setting the fine-tune flag: nothing (same weights, optimizer, best); at the end: the
best-on-validation weights. odn_jax's carry-over (`grow.init='trained'`) keeps the trained
pieces and their momentum instead.
"""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from odn_jax import models, search
from odn_jax.config import defaults
from odn_jax.models import partition
from odn_jax.run import checkpoint, workdir
from odn_jax.train import loop as trainer, state as state_lib, steps as steps_lib

from conftest import quickstart_config

INPUT_SHAPE = (8, 8, 1)


def shifted(tree, by):
  return jax.tree.map(lambda x: x + by, tree)


def momentum(ts):
  return ts.opt_state.inner_state


def make_run(init):
  config = quickstart_config()
  config.model.width = 4
  config.model.max_depth = 3
  config.grow.init = init
  model = models.from_config(config, 10)
  tx = steps_lib.make_optimizer(config.optim)
  params, state = model.init(jax.random.key(0), INPUT_SHAPE)
  return state_lib.RunState(config, model, tx, {'params': params, 'state': state}, 1)


def train_at(run, by):
  """Stands in for an epoch: weights and momentum move away from where they were."""
  run.ts = run.ts.replace(params=shifted(run.ts.params, by),
                          opt_state=run.ts.opt_state._replace(
                              inner_state=shifted(momentum(run.ts), by)))


def grown_past_warmup(run, tmp_path):
  """Warm-up, then depth 1 trained twice: its best is the first epoch, not the last."""
  assert run.plan.phase == search.WARMUP
  train_at(run, 1.0)
  warmup_params = jax.tree.map(jnp.copy, run.ts.params)
  run.move_to(search.Plan(search.GROW, 1, 0.1), str(tmp_path))
  train_at(run, 10.0)
  best = jax.tree.map(jnp.copy, {'params': run.ts.params, 'state': run.ts.batch_stats})
  run.best = best
  train_at(run, 100.0)  # the last epoch: worse on validation, not kept
  return warmup_params, best


@pytest.mark.parametrize('init', ['warmup', 'trained'])
def test_setting_the_finetune_flag_changes_nothing(init, tmp_path):
  run = make_run(init)
  _, best = grown_past_warmup(run, tmp_path)
  ts = run.ts
  run.move_to(search.Plan(search.FINETUNE, 1, 0.1), str(tmp_path))
  assert run.ts is ts  # same weights, same optimizer with its momentum
  assert run.best is best
  assert run.plan.phase == search.FINETUNE


def test_paper_expansion_reloads_the_warmup_weights_with_a_new_optimizer(tmp_path):
  run = make_run('warmup')
  warmup_params, best = grown_past_warmup(run, tmp_path)
  run.move_to(search.Plan(search.GROW, 2, 0.05), str(tmp_path))
  chex.assert_trees_all_equal(run.ts.params, partition.prefix(run.warmup['params'], 2))
  chex.assert_trees_all_equal(run.ts.params['block_01'], warmup_params['block_01'])
  chex.assert_trees_all_equal(
      jax.tree.map(np.asarray, momentum(run.ts)),
      jax.tree.map(np.zeros_like, momentum(run.ts)))
  # Depth 1 keeps its best weights, not its last.
  tagged = checkpoint.load_variables(workdir.depth_path(str(tmp_path), 1))
  chex.assert_trees_all_close(tagged['params'], best['params'])


def test_carry_over_keeps_the_best_trained_pieces_and_their_momentum(tmp_path):
  run = make_run('trained')
  _, best = grown_past_warmup(run, tmp_path)
  old_momentum = momentum(run.ts)
  run.move_to(search.Plan(search.GROW, 2, 0.05), str(tmp_path))
  chex.assert_trees_all_close(run.ts.params['block_01'], best['params']['block_01'])
  chex.assert_trees_all_close(run.ts.params['stem'], best['params']['stem'])
  # Momentum of the pieces both depths share is carried; the new block's starts at zero.
  carried = jax.tree.leaves(momentum(run.ts))
  assert any(np.any(np.asarray(x) != 0) for x in carried)
  chex.assert_trees_all_close(
      partition.carry_over(old_momentum, momentum(run.ts)), momentum(run.ts))


def test_the_search_ends_with_the_best_weights_not_the_last(tmp_path):
  run = make_run('warmup')
  _, best = grown_past_warmup(run, tmp_path)
  run.move_to(search.Plan(search.DONE, 1, 0.0), str(tmp_path))
  chex.assert_trees_all_close(partition.prefix(run.variables['params'], 1), best['params'])


def test_partial_carry_moves_the_trained_weights_towards_the_warmup_weights(tmp_path):
  run = make_run('trained')
  run.config.grow.carry = 0.25
  _, best = grown_past_warmup(run, tmp_path)
  run.move_to(search.Plan(search.GROW, 2, 0.05), str(tmp_path))
  expected = jax.tree.map(lambda t, w: 0.25 * t + 0.75 * w, best['params']['block_01'],
                          run.warmup['params']['block_01'])
  chex.assert_trees_all_close(run.ts.params['block_01'], expected, rtol=1e-6)


def test_fast_schedule_trains_each_depth_as_the_paper_until_it_leaves_it(tmp_path):
  # Each depth restarts from the warm-up weights and draws its batches from (seed, depth,
  # epochs at the depth): what the fast schedule trains at a depth is, epoch for epoch, what
  # the paper schedule trains there, however many epochs it spent on the depths before.
  # (Keyed by the run's global epoch instead, depth 2 would see other batches here.)
  def run_search(schedule):
    config = quickstart_config()
    config.model.width, config.model.max_depth = 4, 3
    config.data.train_subset, config.precise_bn_batches = 256, 2
    config.warmup.epochs, config.early_exit_epochs = 1, 0
    config.measure_throughput = False
    config.search.max_epochs_per_depth = config.search.max_epochs_total = 0
    config.search.target = 99.9  # out of reach: every depth is trained and left
    defaults.with_schedule(config, schedule)
    # The forecast fires at once here.
    config.search.abandon_min_epochs, config.search.abandon_min_decays = 3, 0
    trainer.train_and_evaluate(config, str(tmp_path / schedule), quiet=True)
    return json.loads((tmp_path / schedule / 'history.json').read_text())

  paper, fast = run_search('paper'), run_search('fast')
  by_depth = lambda history, phase: [[(r['loss'], r['val_correct']) for r in history
                                      if r['depth'] == d and r['phase'] == phase]
                                     for d in (1, 2)]
  paper_curves, fast_curves = by_depth(paper, search.GROW), by_depth(fast, search.GROW)
  assert [len(c) for c in fast_curves] == [3, 3]  # abandoned by the forecast
  assert all(len(p) > 3 for p in paper_curves)  # converged only after `patience` flat epochs
  for paper_curve, fast_curve in zip(paper_curves, fast_curves):
    assert fast_curve == paper_curve[:len(fast_curve)]
