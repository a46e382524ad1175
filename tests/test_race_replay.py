"""The race of depths replayed on recorded sequential searches (`benchmarks/race_replay.py`):
the list schedule of their own per-depth runs, and the simulated wall-clock built on it."""

import importlib.util
from pathlib import Path

import pytest

from odn_jax.search import race as race_lib
from odn_jax.search.race import COMMITTED, DONE, SHORT, TRAINING

_PATH = Path(__file__).parent.parent / 'benchmarks' / 'race_replay.py'
_SPEC = importlib.util.spec_from_file_location('race_replay', _PATH)
race_replay = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(race_replay)


def short(epochs):
  return [TRAINING] * (epochs - 1) + [SHORT]


def reaches(grow, total):
  return [TRAINING] * (grow - 1) + [COMMITTED] * (total - grow) + [DONE]


# Digits width 4 seed 0 (BENCHMARKS.md): 85, 106, 55, 42, 34, 60 epochs; depth 6 chosen (its
# reaching epoch is not in the table: any of its first 37 gives the same rounds).
DIGITS_SEED0 = {1: short(85), 2: short(106), 3: short(55), 4: short(42), 5: short(34),
                6: reaches(30, 60)}


def test_four_slots_end_the_digits_search_after_its_longest_chain():
  race = race_lib.simulate(DIGITS_SEED0, 1, 8, slots=4)
  # 1-4 start together; 5 takes 4's slot at 42, 6 takes 3's at 55 and ends at 115; depth 7
  # took 5's slot at 77 and was cancelled when 6 reached the goal (round 85).
  assert (race.rounds, race.answer) == (115, 6)
  assert {d: r.epochs for d, r in race.runs.items()} == {
      1: 85, 2: 106, 3: 55, 4: 42, 5: 34, 6: 60, 7: 9}
  busy = race_replay.busy(race)
  assert len(busy) == 115 and sorted(busy[0]) == [1, 2, 3, 4] and busy[-1] == [6]


def test_a_simulated_round_lasts_as_long_as_its_slowest_slot():
  race = race_lib.simulate({1: short(3), 2: reaches(1, 1)}, 1, 2, slots=2)
  assert race_replay.busy(race) == [[1, 2], [1], [1]]
  assert race_replay.simulated_seconds(race, {1: 1.0, 2: 5.0}) == 7.0
  assert race_replay.weighted(race, {1: 1.0, 2: 5.0}) == 8.0


@pytest.mark.parametrize('schedule,rounds', [('paper', 120), ('fast', 120)])
def test_the_recorded_resnet34_search_replays_to_the_paper_answer(schedule, rounds):
  name = 'fashion_mnist_2000_resnet34_width8_seed0'  # 89, 113, 120, 101 epochs; depth 4
  log = race_replay.recorded()[name]
  scripts = race_replay.scripts_for(name, log, schedule)
  sequential = race_lib.simulate(scripts, 1, 16, slots=1)
  race = race_lib.simulate(scripts, 1, 16, slots=4)
  assert sequential.rounds == (423 if schedule == 'paper' else 241)  # BENCHMARKS.md: 426, 244
  assert (race.rounds, race.answer) == (rounds, 4)  # depth 3's 120 epochs are the floor
