"""The controller's decisions on scripted histories: no training involved."""

import pytest

from odn_jax import defaults, search


def make_config(**search_overrides):
  config = defaults.base_config()
  config.warmup.epochs = 2
  config.search.target = 90.0
  config.search.tolerance = 0.5
  config.search.patience = 3
  config.search.plateau_patience = 2
  config.search.plateau_factor = 0.5
  config.search.learning_rate = 0.1
  config.model.max_depth = 3
  config.search.update(search_overrides)
  return config


def epochs(phase, depth, accuracies):
  return [{'phase': phase, 'depth': depth, 'val_accuracy': a} for a in accuracies]


def test_starts_with_warmup_then_depth_one():
  config = make_config()
  assert search.next_plan([], config).phase == search.WARMUP
  history = epochs('warmup', 3, [50.0])
  assert search.next_plan(history, config).phase == search.WARMUP
  plan = search.next_plan(epochs('warmup', 3, [50.0, 60.0]), config)
  assert (plan.phase, plan.depth, plan.learning_rate) == (search.GROW, 1, 0.1)


def test_no_warmup_starts_growing_at_depth_one():
  config = make_config()
  config.warmup.epochs = 0
  plan = search.next_plan([], config)
  assert (plan.phase, plan.depth) == (search.GROW, 1)


def test_keeps_training_while_improving():
  plan = search.next_plan(epochs('grow', 1, [50, 60, 70, 80]), make_config())
  assert (plan.phase, plan.depth) == (search.GROW, 1)


def test_plateau_below_target_grows_the_depth():
  history = epochs('grow', 1, [80, 85, 84, 84.5, 83])
  plan = search.next_plan(history, make_config())
  assert (plan.phase, plan.depth, plan.learning_rate) == (search.GROW, 2, 0.1)
  assert 'grow' in plan.reason


def test_reaching_target_minus_tolerance_stops_growth():
  history = epochs('grow', 1, [80]) + epochs('grow', 2, [85, 89.5, 89, 89.2, 88])
  plan = search.next_plan(history, make_config())
  assert (plan.phase, plan.depth) == (search.FINETUNE, 2)
  assert 'target' in plan.reason


def test_finetune_at_target_skips_the_wait_for_convergence():
  history = epochs('grow', 1, [80]) + epochs('grow', 2, [85, 89.5])
  assert search.next_plan(history, make_config()).phase == search.GROW  # the reference
  plan = search.next_plan(history, make_config(finetune_at_target=True))
  assert (plan.phase, plan.depth) == (search.FINETUNE, 2)
  # Only the target rule: saturation mode keeps growing.
  plan = search.next_plan(history, make_config(finetune_at_target=True, mode='saturation'))
  assert plan.phase == search.GROW


def test_rounding_while_growing_hides_tiny_gains():
  # 80.01 rounds to 80.0 at one decimal: not an improvement, so depth 1 converges.
  history = epochs('grow', 1, [80.0, 80.01, 80.02, 80.04])
  assert search.next_plan(history, make_config()).depth == 2
  # While fine-tuning two decimals count.
  history = epochs('finetune', 1, [80.0, 80.01, 80.02, 80.04])
  assert search.next_plan(history, make_config()).phase == search.FINETUNE


def test_learning_rate_decays_after_flat_epochs():
  config = make_config(patience=100)
  flat = [70, 70, 70]  # two epochs without improvement after the first
  assert search.next_plan(epochs('grow', 1, flat[:2]), config).learning_rate == 0.1
  assert search.next_plan(epochs('grow', 1, flat), config).learning_rate == 0.05
  assert search.next_plan(epochs('grow', 1, flat + [70, 70]), config).learning_rate == 0.025
  # An improvement keeps the decayed rate but restarts the count.
  assert search.next_plan(epochs('grow', 1, flat + [71, 71]), config).learning_rate == 0.05


def test_max_depth_forces_finetuning_whatever_the_accuracy():
  history = (epochs('grow', 1, [10]) + epochs('grow', 2, [20])
             + epochs('grow', 3, [30, 30, 30, 30]))
  plan = search.next_plan(history, make_config())
  assert (plan.phase, plan.depth) == (search.FINETUNE, 3)
  assert 'maximum depth' in plan.reason


def test_finetune_converges_to_done():
  history = epochs('finetune', 2, [90, 91, 91, 90, 91])
  plan = search.next_plan(history, make_config())
  assert (plan.phase, plan.depth) == (search.DONE, 2)


def test_per_depth_cap_ends_a_depth_that_keeps_improving():
  history = epochs('grow', 1, [10, 20, 30, 40])
  plan = search.next_plan(history, make_config(max_epochs_per_depth=4))
  assert (plan.phase, plan.depth) == (search.GROW, 2)
  assert 'cap' in plan.reason


def test_total_cap_ends_the_run():
  history = epochs('warmup', 3, [1, 2]) + epochs('grow', 1, [10, 20, 30])
  plan = search.next_plan(history, make_config(max_epochs_total=5))
  assert (plan.phase, plan.depth) == (search.DONE, 1)


def test_min_delta_counts_only_gains_above_it():
  # Each epoch gains 0.3, below min_delta 0.5, but gains accumulate: 80.6 beats the last
  # improvement (80) by 0.6. After it, 81.0 is the best, yet no improvement.
  accuracies = [80.0, 80.3, 80.6, 80.9, 81.0, 81.0]
  seg = search.segment(epochs('grow', 1, accuracies), make_config(min_delta=0.5))
  assert (seg.best_val_accuracy, seg.best_epoch, seg.since_best) == (81.0, 4, 3)
  assert search.next_plan(epochs('grow', 1, accuracies), make_config(min_delta=0.5)).depth == 2
  # The reference (min_delta 0) counts every gain at its rounding: still improving.
  seg = search.segment(epochs('grow', 1, accuracies), make_config())
  assert (seg.best_epoch, seg.since_best) == (4, 1)
  assert search.next_plan(epochs('grow', 1, accuracies), make_config()).depth == 1
  with pytest.raises(ValueError, match='min_delta'):
    search.check_config(make_config(min_delta=-1.0))


def test_segment_statistics():
  seg = search.segment(epochs('grow', 1, [5]) + epochs('grow', 2, [50, 60, 55, 58]),
                       make_config())
  assert (seg.depth, seg.epochs, seg.best_val_accuracy, seg.best_epoch, seg.since_best) == (
      2, 4, 60.0, 1, 2)


def test_per_depth_summarises_epochs_and_best_accuracy():
  history = (epochs('warmup', 3, [1]) + epochs('grow', 1, [10, 12.5])
             + epochs('grow', 2, [30]) + epochs('finetune', 2, [31, 29]))
  assert search.per_depth(history) == {
      1: {'depth': 1, 'epochs': 2, 'best_val_accuracy': 12.5},
      2: {'depth': 2, 'epochs': 3, 'best_val_accuracy': 31},
  }


def test_bad_max_depth_is_refused():
  config = make_config()
  config.model.max_depth = 9
  with pytest.raises(ValueError, match='max_depth must be in 1..8'):
    search.next_plan([], config)


SIZES = [{'depth': d, 'params': 100 * d, 'bytes': 400 * d, 'flops': 1000 * d} for d in (1, 2, 3)]


def test_saturation_grows_while_depth_pays():
  config = make_config(mode='saturation', min_gain=1.0, target=100.0)
  history = epochs('grow', 1, [80, 80, 80, 80]) + epochs('grow', 2, [85, 85, 85, 85])
  plan = search.next_plan(history, config)
  assert (plan.phase, plan.depth) == (search.GROW, 3)


def test_saturation_gain_below_min_gain_stops_and_picks_the_shallowest_near_best():
  config = make_config(mode='saturation', min_gain=1.0, target=100.0)
  history = (epochs('grow', 1, [80, 80, 80, 80]) + epochs('grow', 2, [85.0, 85, 85, 85])
             + epochs('grow', 3, [85.5, 85.5, 85.5, 85.5]))
  plan = search.next_plan(history, config)
  # Depth 3 gained 0.5 < 1.0 points; depth 2 is within 1.0 of the best (85.5).
  assert (plan.phase, plan.depth) == (search.FINETUNE, 2)
  assert 'gain 0.50 < 1' in plan.reason


def test_saturation_ignores_the_target():
  config = make_config(mode='saturation', min_gain=1.0, target=50.0)
  history = epochs('grow', 1, [80, 80, 80, 80])
  assert search.next_plan(history, config).phase == search.GROW


def test_budget_caps_the_depth():
  config = make_config(mode='budget', target=100.0)
  config.search.budget.params = 250  # depths 1 and 2 fit
  assert search.depth_limit(config, SIZES) == 2
  history = epochs('grow', 1, [80, 80, 80, 80]) + epochs('grow', 2, [79, 79, 79, 79])
  plan = search.next_plan(history, config, SIZES)
  # Never grows to 3; returns the best depth that fits.
  assert (plan.phase, plan.depth) == (search.FINETUNE, 1)
  assert 'budget' in plan.reason


def test_budget_of_one_depth_returns_depth_one():
  config = make_config(mode='budget', target=100.0)
  config.search.budget.flops = 1500
  plan = search.next_plan(epochs('grow', 1, [80, 80, 80, 80]), config, SIZES)
  assert (plan.phase, plan.depth) == (search.FINETUNE, 1)


def test_budget_with_no_fitting_depth_or_no_limit_is_refused():
  config = make_config(mode='budget')
  with pytest.raises(ValueError, match='needs a limit'):
    search.check_config(config)
  config.search.budget.bytes = 10
  with pytest.raises(ValueError, match='no depth fits'):
    search.depth_limit(config, SIZES)


def test_profile_start_skips_to_the_first_head_near_the_best():
  config = make_config(start='profile', start_margin=5.0)
  history = epochs('warmup', 3, [40, 50])
  history[-1]['val_accuracy_per_head'] = [30.0, 60.0, 62.0]
  plan = search.next_plan(history, config)
  assert (plan.phase, plan.depth) == (search.GROW, 2)
  assert 'profile' in plan.reason
  config.search.start = 'shallowest'
  assert search.next_plan(history, config).depth == 1


def test_profile_start_respects_the_budget():
  config = make_config(start='profile', start_margin=0.0, mode='budget')
  config.search.budget.params = 150
  history = epochs('warmup', 3, [40, 50])
  history[-1]['val_accuracy_per_head'] = [30.0, 60.0, 62.0]
  assert search.next_plan(history, config, SIZES).depth == 1


def test_unknown_mode_and_start_are_refused():
  with pytest.raises(ValueError, match='search.mode'):
    search.check_config(make_config(mode='fastest'))
  with pytest.raises(ValueError, match='search.start'):
    search.check_config(make_config(start='deepest'))
