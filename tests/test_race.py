"""The race of depths, decided without training: the schedule on scripted per-depth runs, and
the per-depth folds against the sequential controller on synthetic searches."""

import random

import pytest

from odn_jax import search
from odn_jax.errors import ConfigError
from odn_jax.search import race as race_lib
from odn_jax.search.race import CANCELLED, COMMITTED, DONE, SHORT, TRAINING

from conftest import quickstart_config


def short(epochs):
  return [TRAINING] * (epochs - 1) + [SHORT]


def reaches(grow, finish):
  """Grows `grow` epochs (the last sets the fine-tune flag), then finishes in `finish`."""
  return [TRAINING] * (grow - 1) + [COMMITTED] * finish + [DONE]


def sequential_rounds(scripts, first):
  depth, rounds = first, 0
  while True:
    rounds += len(scripts[depth])
    if scripts[depth][-1] == DONE:
      return depth, rounds
    depth += 1


def random_scripts(rng, first, limit):
  scripts = {}
  for depth in range(first, limit + 1):
    if depth == limit or rng.random() < 0.3:
      scripts[depth] = reaches(rng.randint(1, 9), rng.randint(0, 6))
    else:
      scripts[depth] = short(rng.randint(1, 12))
  return scripts


def test_one_slot_is_the_sequential_search():
  scripts = {1: short(5), 2: short(7), 3: reaches(4, 3), 4: short(2)}
  race = race_lib.simulate(scripts, 1, 4, slots=1)
  assert race.answer == 3
  assert race.rounds == 5 + 7 + 7
  assert race.speculative() == []


def test_four_slots_end_with_the_slowest_depth_up_to_the_answer():
  scripts = {1: short(5), 2: short(9), 3: reaches(4, 3), 4: short(2), 5: reaches(2, 20),
             6: reaches(50, 1)}
  race = race_lib.simulate(scripts, 1, 6, slots=4)
  assert race.answer == 3
  assert race.rounds == 9  # depth 2 falls short last; depth 3 finished in round 7
  runs = race.runs
  # depth 4 fell short in round 2, its slot took depth 5, which committed in round 4 (it
  # reached the goal) and was cancelled in round 4 when depth 3 committed: depth 6 never ran.
  assert (runs[4].state, runs[4].end_round) == (SHORT, 2)
  assert (runs[5].slot, runs[5].start_round) == (runs[4].slot, 3)
  assert (runs[5].state, runs[5].end_round, runs[5].epochs) == (CANCELLED, 4, 2)
  assert 6 not in runs
  assert race.speculative() == [4, 5]


def test_a_shallower_depth_reaching_the_goal_cancels_a_deeper_one_finishing():
  scripts = {1: short(3), 2: reaches(10, 5), 3: reaches(2, 30)}
  race = race_lib.simulate(scripts, 1, 3, slots=3)
  assert race.answer == 2
  assert race.runs[3].state == CANCELLED and race.runs[3].end_round == 10
  assert race.rounds == 15


@pytest.mark.parametrize('slots', [1, 2, 3, 5, 8])
@pytest.mark.parametrize('lookahead', [None, 1, 2, 4])
def test_random_races_give_the_sequential_answer(slots, lookahead):
  rng = random.Random(slots * 100 + (lookahead or 0))
  for _ in range(200):
    first = rng.randint(1, 3)
    limit = first + rng.randint(0, 7)
    scripts = random_scripts(rng, first, limit)
    answer, rounds = sequential_rounds(scripts, first)
    race = race_lib.simulate(scripts, first, limit, slots, lookahead)
    assert race.answer == answer
    assert race.rounds <= rounds
    if race.slots == 1 or lookahead is None and slots > limit - first:
      # every depth up to the answer starts at once: the slowest of them ends the race
      expected = rounds if race.slots == 1 else max(len(scripts[d])
                                                   for d in range(first, answer + 1))
      assert race.rounds == expected
    for depth, run in race.runs.items():
      assert run.slot < min(slots, limit - first + 1)
      if depth <= answer:  # trained exactly as the sequential search trains it
        assert run.epochs == len(scripts[depth])
        assert run.state == (DONE if depth == answer else SHORT)
      else:
        assert run.state in (SHORT, CANCELLED, DONE)  # DONE: finished before a shallower one


def test_the_lookahead_bounds_how_deep_a_free_slot_starts():
  scripts = {1: short(20), 2: short(2), 3: short(2), 4: short(2), 5: reaches(2, 1),
             6: reaches(1, 10), 7: short(30)}
  race = race_lib.Race(1, 7, slots=4, lookahead=2)
  seen = []
  while not race.done:
    race.assign()
    running = sorted(race.running().values())
    seen.append(running)
    assert max(running) <= race.shallowest_open + 2
    race.end_round({d: scripts[d][race.runs[d].epochs] for d in running})
  # depth 1 trains on: nothing deeper than 3 starts until it has fallen short
  assert seen[0] == [1, 2, 3] and seen[2] == [1] and seen[20] == [4, 5, 6]
  assert race.answer == 5 and race.rounds == 23 and 7 not in race.runs
  unbounded = race_lib.simulate(scripts, 1, 7, slots=4)
  assert unbounded.answer == 5 and unbounded.rounds == 20
  assert unbounded.runs[7].state == CANCELLED
  epochs = lambda r: sum(run.epochs for run in r.runs.values())
  assert (epochs(race), epochs(unbounded)) == (31, 32)


def test_more_slots_than_depths_are_clipped():
  race = race_lib.simulate({2: short(3), 3: reaches(2, 2)}, 2, 3, slots=8)
  assert race.slots == 2 and race.answer == 3 and race.rounds == 4


def test_a_race_saved_midway_goes_on_as_it_would_have():
  scripts = {1: short(6), 2: short(3), 3: short(4), 4: reaches(3, 2), 5: short(9)}
  whole = race_lib.simulate(scripts, 1, 5, slots=3)
  race = race_lib.Race(1, 5, slots=3)
  for _ in range(4):
    race.assign()
    race.end_round({d: scripts[d][race.runs[d].epochs] for d in race.running().values()})
  race = race_lib.Race.from_json(race.to_json())
  while not race.done:
    race.assign()
    race.end_round({d: scripts[d][race.runs[d].epochs] for d in race.running().values()})
  assert race.summary() == whole.summary()


def test_end_round_needs_every_running_depth():
  race = race_lib.Race(1, 4, slots=2)
  race.assign()
  with pytest.raises(ValueError, match='were training'):
    race.end_round({1: TRAINING})


# ---------------------------------------------------------------- per-depth folds

def paper_rules(schedule=None):
  config = quickstart_config()
  config.search.max_epochs_total = 0
  config.model.max_depth = 6
  if schedule:
    from odn_jax.config import defaults  # pylint: disable=g-import-not-at-top
    defaults.with_schedule(config, schedule)
  return config


def sequential_search(config, curve, seed):
  """A synthetic sequential search: validation counts from `curve(depth, epoch at depth)`."""
  rng = random.Random(seed)
  fold, history, at = search.Fold(config), [], 0
  while not fold.plan.done:
    plan = fold.plan
    if history and plan.depth != history[-1]['depth']:
      at = 0
    correct = curve(plan.depth, at, rng) if plan.phase != search.WARMUP else 300
    record = {'phase': plan.phase, 'depth': plan.depth, 'learning_rate': plan.learning_rate,
              'val_correct': correct, 'val_count': 400, 'val_accuracy': correct / 4}
    fold.push(record)
    history.append(record)
    at += 1
  return history, fold


def climbing(depth, at, rng):
  ceiling = 380 + 5 * depth  # depth 3 and deeper reach 97.5 %
  return min(400, int(ceiling - 200 * 0.8 ** at + rng.randint(-3, 3)))


@pytest.mark.parametrize('schedule', [None, 'fast'])
@pytest.mark.parametrize('seed', range(6))
def test_each_depth_folded_alone_decides_as_the_sequential_search(schedule, seed):
  config = paper_rules(schedule)
  history, fold = sequential_search(config, climbing, seed)
  warmup = [r for r in history if r['phase'] == search.WARMUP]
  position = fold.position
  first, limit = race_lib.first_depth(config, warmup)
  tried = sorted({r['depth'] for r in history if r['phase'] != search.WARMUP})
  assert len(tried) >= 3 and first == tried[0]
  offset = len(warmup)
  for depth in tried:
    records = [r for r in history if r['phase'] != search.WARMUP and r['depth'] == depth]
    alone = race_lib.depth_fold(config, warmup, depth)
    for record in records:
      assert (alone.plan.phase, alone.plan.depth) == (record['phase'], record['depth'])
      assert alone.plan.learning_rate == record['learning_rate']
      alone.push(record)
    # it keeps the same epoch's weights, and ends the same way
    assert alone.kept[depth] - alone.entered == position.kept[depth] - offset
    offset += len(records)
    assert race_lib.state_of(alone, depth) == (DONE if depth == tried[-1] else SHORT)
  if fold.plan.done:
    assert alone.plan == fold.plan
  scripts = race_lib.scripts_from_history(history, config)
  for slots in (1, 2, 4):
    race = race_lib.simulate(scripts, first, limit, slots)
    assert race.answer == fold.plan.depth


def race_config(**overrides):
  config = paper_rules()
  config.search.parallel_depths = 4
  for key, value in overrides.items():
    section, name = key.split('__')
    config[section][name] = value
  return config


@pytest.mark.parametrize('overrides, key', [
    ({'search__mode': 'saturation'}, 'config.search.mode'),
    ({'search__reset_best_on_expansion': False}, 'config.search.reset_best_on_expansion'),
    ({'grow__init': 'trained'}, 'config.grow.init'),
    ({'grow__carry': 0.5}, 'config.grow.init'),
    ({'search__max_epochs_total': 60}, 'config.search.max_epochs_total'),
    ({'search__parallel_depths': 0}, 'config.search.parallel_depths'),
    ({'search__race_lookahead': 0}, 'config.search.race_lookahead'),
])
def test_what_cannot_be_raced_exactly_is_refused_naming_the_key(overrides, key):
  with pytest.raises(ConfigError, match=key.replace('.', r'\.')) as e:
    race_lib.check_config(race_config(**overrides))
  assert '\n' not in str(e.value)


def test_slots_must_divide_the_devices_and_stay_on_one_host():
  config = race_config()
  race_lib.check_config(config)
  race_lib.check_devices(config, 8, 1)
  with pytest.raises(ConfigError, match='parallel_depths=4 does not divide the 6 devices'):
    race_lib.check_devices(config, 6, 1)
  with pytest.raises(ConfigError, match='2 processes'):
    race_lib.check_devices(config, 8, 2)
  config.search.parallel_depths = 1
  race_lib.check_devices(config, 6, 2)  # the sequential search: anything goes
