r"""The race of depths replayed on recorded sequential paper searches, no training.

  python benchmarks/race_replay.py                          # K = 1, 2, 4, 8, no lookahead bound
  python benchmarks/race_replay.py --parallel_depths=4,8 --lookaheads=none,1,2,3
  python benchmarks/race_replay.py --parallel_depths=1,4 --override=search.final_epochs=0

With the paper configs' rules every depth's run is a function of the depth alone, so the race
on K slots is the list schedule of the sequential search's own per-depth runs
(`odn_jax.search.race.simulate`, the schedule the raced search itself follows). `paper`
replays each depth's recorded curve through the paper's rules; `fast` through the fast
preset's (it trains each depth as the paper does until it leaves it, as
`benchmarks/forecast_replay.py` checks). Per search, schedule, K and lookahead bound it prints
the critical path (rounds of epochs after warm-up), every epoch trained (speculative depths
included, up to their cancellation), FLOPs (each epoch weighted by its depth's forward FLOPs)
and device-time, each against the sequential paper search. Warm-up is left out of every column
(the race trains the same warm-up first).

A depth the sequential search never trained (deeper than its answer) has no recorded run: it
is counted as training until it is cancelled. That is exact in epochs unless such a depth
would have fallen short first and handed its slot to a deeper one (then the deeper depth's
dearer epochs are counted at the shallower one's FLOPs).

`flops_wall_x` is a simulated wall-clock on one device per slot, with an epoch lasting in
proportion to its depth's FLOPs (a round as long as its slowest slot's epoch), against the
sequential paper search on one device: no epoch time is measured here.

Device-time: on K devices the race holds all K for its critical path, busy or idle: K x CP.
The sequential search on the same K devices splits its batch; at a data-parallel efficiency e
its E epochs take E / (K e) rounds, device-time E / e. `K x CP / E` is the race's device-time
(and wall-clock) against the sequential search scaling perfectly (e = 1); the race is ahead on
those K devices wherever the batch-split search's efficiency is below E / (K x CP).
"""

import ast
import json
import pathlib

from absl import app, flags, logging

from odn_jax import models, search
from odn_jax.config import defaults
from odn_jax.models import size
from odn_jax.search import race as race_lib

DATA = pathlib.Path(__file__).resolve().parent.parent / 'tests' / 'data'
# The recorded curves of these searches stop at the epoch the chosen depth reached the goal;
# its whole run under the paper's rules (to 23 flat epochs) is in BENCHMARKS.md's tables.
PAPER_CHOSEN_EPOCHS = {
    'fashion_mnist_2000_resnet18_width8_seed0': 98,
    'fashion_mnist_2000_resnet18_width8_seed1': 59,
    'fashion_mnist_2000_resnet18_width8_seed2': 75,
    'fashion_mnist_2000_resnet34_width8_seed0': 101,
    'fashion_mnist_2000_resnet34_width8_seed1': 95,
    'fashion_mnist_2000_resnet34_width8_seed2': 98,
}

FLAGS = flags.FLAGS


def define_flags():  # only when run: benchmarks/search_cost.py imports this module
  flags.DEFINE_list('parallel_depths', ['1', '2', '4', '8'], 'Slots K to replay.')
  flags.DEFINE_list('lookaheads', ['none'], "Lookahead bounds ('none': no bound).")
  flags.DEFINE_bool('json', False, 'One JSON row per line instead of a table.')
  flags.DEFINE_multi_string('override', [], 'KEY=VALUE on the fast schedule.')


def curves(log) -> dict[int, list[int]]:
  by_depth = {}
  for depth, correct in zip(log['depths'], log['val_correct']):
    by_depth.setdefault(depth, []).append(correct)
  return by_depth


def config_for(log, schedule: str, overrides=()):
  config = defaults.with_schedule(defaults.base_config(), schedule)
  config.model.arch = log['arch']
  config.warmup.epochs = 0
  config.search.target, config.search.tolerance = log['target'], log['tolerance']
  if schedule == 'fast':
    config.update_from_flattened_dict(
        {k: ast.literal_eval(v) for k, _, v in (o.partition('=') for o in overrides)})
  return config


def replayed_history(log, config) -> list[dict]:
  """The history the sequential search under `config` records on the log's per-depth curves
  (a curve's last value repeated past its end)."""
  by_depth, fold, at = curves(log), search.Fold(config), {}
  while not fold.plan.done:
    depth = fold.plan.depth
    if depth not in by_depth:
      raise ValueError(f'{config.schedule} goes on to depth {depth}, past the recorded ones '
                       '(it dropped a depth that reached the goal)')
    curve, i = by_depth[depth], at.get(depth, 0)
    at[depth] = i + 1
    correct = curve[min(i, len(curve) - 1)]
    fold.push({'phase': fold.plan.phase, 'depth': depth, 'val_correct': correct,
               'val_count': log['val_total'], 'val_accuracy': 100 * correct / log['val_total']})
  return fold.history


def scripts_for(name, log, schedule: str, overrides=()) -> dict[int, list[str]]:
  """Each depth's state after each of its epochs, sequentially, under `schedule`."""
  config = config_for(log, schedule, overrides)
  scripts = race_lib.scripts_from_history(replayed_history(log, config), config)
  recorded = {d: len(c) for d, c in curves(log).items()}
  if schedule == 'paper' and {d: len(s) for d, s in scripts.items() if d < max(scripts)} != {
      d: n for d, n in recorded.items() if d < max(recorded)}:
    raise ValueError(f'{name}: the paper rules do not replay the recorded depths {recorded}')
  if not config.search.final_epochs and name in PAPER_CHOSEN_EPOCHS:  # the paper's finish
    last = max(scripts)
    reached = scripts[last].index(race_lib.COMMITTED) + 1
    scripts[last] = (scripts[last][:reached]
                     + [race_lib.COMMITTED] * (PAPER_CHOSEN_EPOCHS[name] - reached - 1)
                     + [race_lib.DONE])
  return scripts


def limit_of(log) -> int:
  return log.get('max_depth') or models.num_blocks(log['arch'])


def forward_flops(arch: str, width: int, input_shape, limit: int) -> dict[int, float]:
  model = models.build(arch, 10, width)
  return {d: size.forward_flops(model, input_shape, d) for d in range(1, limit + 1)}


def busy(race) -> list[list[int]]:
  """Per round, the depths training in it."""
  rounds = [[] for _ in range(race.rounds)]
  for run in race.runs.values():
    for r in range(run.start_round, run.start_round + run.epochs):
      rounds[r - 1].append(run.depth)
  return rounds


def weighted(race, per_epoch: dict[int, float]) -> float:
  """Every epoch trained, weighted by its depth's cost (FLOPs or seconds an epoch)."""
  return sum(run.epochs * per_epoch[run.depth] for run in race.runs.values())


def simulated_seconds(race, epoch_s: dict[int, float]) -> float:
  """Wall-clock on one device per slot: each round lasts as long as its slowest slot's epoch
  (`epoch_s`: each depth's epoch measured alone)."""
  return sum(max(epoch_s[d] for d in depths) for depths in busy(race) if depths)


def measures(race, sequential, flops: dict[int, float], slots: int) -> dict:
  """The race's figures against the sequential paper search's (`sequential`: K = 1)."""
  epochs = sum(run.epochs for run in race.runs.values())
  seq_epochs = sequential.rounds
  return {'K': slots, 'lookahead': race.lookahead, 'critical_path': race.rounds,
          'epochs': epochs, 'critical_path_x': round(race.rounds / seq_epochs, 3),
          'epochs_x': round(epochs / seq_epochs, 3),
          'flops_x': round(weighted(race, flops) / weighted(sequential, flops), 3),
          'device_time_x': round(slots * race.rounds / seq_epochs, 3),
          # simulated: an epoch takes time in proportion to its depth's FLOPs (not measured)
          'flops_wall_x': round(simulated_seconds(race, flops) / weighted(sequential, flops), 3),
          'answer': race.answer, 'same_answer': race.answer == sequential.answer,
          'epochs_by_depth': {d: r.epochs for d, r in sorted(race.runs.items())},
          'cancelled': sorted(d for d, r in race.runs.items() if r.state == race_lib.CANCELLED)}


def rows(name, log, slots, lookaheads, overrides=()) -> list[dict]:
  limit = limit_of(log)
  shape = {'digits': (8, 8, 1)}.get(log['dataset'], (28, 28, 1))
  flops = forward_flops(log['arch'], log.get('width', 64), shape, limit)
  paper = race_lib.simulate(scripts_for(name, log, 'paper'), 1, limit, 1)
  out = []
  for schedule in ('paper', 'fast'):
    scripts = scripts_for(name, log, schedule, overrides)
    for k in slots:
      for lookahead in lookaheads:
        race = race_lib.simulate(scripts, 1, limit, k, lookahead)
        out.append({'search': name, 'schedule': schedule, 'paper_epochs': paper.rounds,
                    **measures(race, paper, flops, k)})
  return out


def recorded() -> dict:
  """odn_jax's own paper searches (the notebooks' logs keep the best across expansions, so
  their depths are not independent runs and are left out)."""
  return json.loads((DATA / 'recorded_histories.json').read_text())


def table_row(row) -> str:
  lookahead = 'none' if row['lookahead'] is None else row['lookahead']
  return (f"| {row['search']} | {row['schedule']} | {row['K']} | {lookahead} | "
          f"{row['critical_path']} | {row['critical_path_x']:.2f} | {row['epochs']} | "
          f"{row['flops_x']:.2f} | {row['device_time_x']:.2f} | {row['flops_wall_x']:.2f} | "
          f"{row['answer']} "
          f"({'yes' if row['same_answer'] else 'no'}) |")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  slots = [int(k) for k in FLAGS.parallel_depths]
  lookaheads = [None if v.lower() == 'none' else int(v) for v in FLAGS.lookaheads]
  if not FLAGS.json:
    print('| search | schedule | K | lookahead | critical path | x paper epochs | epochs | '
          'FLOPs x paper | device-time x paper | simulated wall-clock x paper | depth (same) |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
  for name, log in recorded().items():
    for row in rows(name, log, slots, lookaheads, FLAGS.override):
      print(json.dumps(row) if FLAGS.json else table_row(row), flush=True)


if __name__ == '__main__':
  define_flags()
  app.run(main)
