r"""The fast schedule's forecast replayed on recorded paper-schedule searches, no training.

  python benchmarks/forecast_replay.py
  python benchmarks/forecast_replay.py --override=search.abandon_noise=0.0

Each recorded search (the notebooks' saved logs, tests/data/notebook_logs.json; odn_jax's paper
runs, tests/data/recorded_histories.json) holds the validation accuracy of every epoch. Until
the fast schedule leaves a depth it trains exactly as the paper's, so replaying each depth's
curve through the controller gives the epochs it would spend there: up to the forecast (a
depth short of the goal) or up to the goal plus `search.final_epochs` (the depth chosen).
Per search it prints the paper's epochs and forward-FLOP-weighted cost, the fast rule's, and
an oracle's that knows in advance which depths fall short: `abandon_min_epochs` epochs on each
of them, and the chosen depth to its goal plus the final epochs. The oracle bounds what any
forecast with that minimum can save when every depth starts from the warm-up weights. Warm-up
epochs are left out of every column. A rule that drops a depth which reached the goal is
flagged: its row undercounts (the search would go on past the recorded depths).
"""

import ast
import json
import pathlib

from absl import app, flags, logging

from odn_jax import models, search
from odn_jax.config import defaults
from odn_jax.models import size

DATA = pathlib.Path(__file__).resolve().parent.parent / 'tests' / 'data'
_OVERRIDE = flags.DEFINE_multi_string('override', [], 'KEY=VALUE on the fast schedule.')


def recorded_searches() -> dict:
  logs = json.loads((DATA / 'notebook_logs.json').read_text())
  return {**logs, **json.loads((DATA / 'recorded_histories.json').read_text())}


def depth_curves(log) -> dict[int, list[int]]:
  curves = {}
  for depth, correct in zip(log['depths'], log['val_correct']):
    curves.setdefault(depth, []).append(correct)
  return curves


def epochs_until_left(config, log, curve) -> int:
  """Epochs the controller grows a depth on `curve` (the last value repeated) before it
  leaves: abandoned, converged, or reached the goal (then the final epochs follow)."""
  fold = search.Fold(config)
  for epoch in range(10 * len(curve) + 100):
    fold.push({'phase': fold.plan.phase, 'depth': 1, 'val_correct': curve[min(epoch, len(curve) - 1)],
               'val_count': log['val_total'], 'val_accuracy': 0.0})
    if (fold.plan.phase, fold.plan.depth) != (search.GROW, 1):
      return epoch + 1
  raise RuntimeError('the controller never left the depth')


def fast_config(log):
  config = defaults.with_schedule(defaults.base_config(), 'fast')
  config.warmup.epochs = 0
  config.search.target, config.search.tolerance = log['target'], log['tolerance']
  config.update_from_flattened_dict(
      {k: ast.literal_eval(v) for k, _, v in (o.partition('=') for o in _OVERRIDE.value)})
  return config


def input_shape(log):
  return {'digits': (8, 8, 1), 'svhn_cropped': (32, 32, 3), 'cifar10': (32, 32, 3)}.get(
      log['dataset'], (28, 28, 1))


def replay(log) -> dict:
  config, goal = fast_config(log), log['target'] - log['tolerance']
  arch = log.get('arch', 'resnet18' if log.get('max_depth') == 8 else 'resnet34')
  model = models.build(arch, 10, log.get('width', 64))
  row = {'paper_epochs': 0, 'fast_epochs': 0, 'paper': 0.0, 'fast': 0.0, 'oracle': 0.0,
         'dropped': []}
  for depth, curve in depth_curves(log).items():
    flops = size.forward_flops(model, input_shape(log), depth)
    accuracy = [search.rounded_accuracy({'val_correct': c, 'val_count': log['val_total']}, 1)
                for c in curve]
    reached = next((i + 1 for i, a in enumerate(accuracy) if a >= goal), None)
    fast = epochs_until_left(config, log, curve)
    if reached and fast < reached:  # abandoned a depth that would have reached the goal
      row['dropped'].append(depth)
    elif reached:
      fast += config.search.final_epochs
    oracle = (reached + config.search.final_epochs if reached
              else config.search.abandon_min_epochs)
    row['paper_epochs'] += len(curve)
    row['fast_epochs'] += fast
    row['paper'] += len(curve) * flops
    row['fast'] += fast * flops
    row['oracle'] += min(oracle, len(curve)) * flops
  return row


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  print('| search | paper epochs | fast epochs | fast / paper FLOPs | oracle / paper FLOPs | '
        'depths dropped that reached the goal |')
  print('|---|---|---|---|---|---|')
  for name, log in recorded_searches().items():
    row = replay(log)
    print(f"| {name} | {row['paper_epochs']} | {row['fast_epochs']} | "
          f"{row['fast'] / row['paper']:.2f} | {row['oracle'] / row['paper']:.2f} | "
          f"{', '.join(map(str, row['dropped'])) or 'none'} |")


if __name__ == '__main__':
  app.run(main)
