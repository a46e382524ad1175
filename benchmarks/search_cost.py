r"""The whole search under named schedules, on the same data, over several seeds.

  paper : the config as the notebooks run it (the paper configs' defaults);
  fast  : odn_jax's schedule (`odn_jax.config.defaults.with_schedule(config, 'fast')`);
  full  : no search: the full-depth network trained by the paper's rules to convergence,
          what a user would do instead (`search.start='deepest'`, no warm-up).
`--override=KEY=VALUE` changes a key of every schedule after it is applied (a lever of the
fast schedule is measured with `--schedules=fast --override=...`).

  python benchmarks/search_cost.py --config=configs/quickstart.py \
      --config.search.max_epochs_per_depth=0 --config.search.max_epochs_total=0 \
      --config.search.patience=23 --config.search.plateau_patience=5 \
      --seeds=0,1,2 --workdir=/tmp/search_cost_digits

Reports, per schedule and seed: epochs, wall-clock, training FLOPs (3x the forward FLOPs of
what each step runs, per example, plus the forward passes that recompute BatchNorm
statistics), optimal depth and test accuracy; then mean and range per schedule, and
fast / paper ratios.
"""

import ast
import json
import os

from absl import app, flags, logging
from ml_collections import config_flags
import numpy as np

from odn_jax import data, models, search
from odn_jax.config import defaults
from odn_jax.models import size
from odn_jax.run import record_files
from odn_jax.train import loop as trainer

SCHEDULES = ('paper', 'fast', 'full')

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/fashion_mnist.py', 'Base config.')
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/odn_search_cost', 'A subfolder per run.')
_SCHEDULES = flags.DEFINE_list('schedules', ['paper', 'fast'], f'Of {SCHEDULES}.')
_SEEDS = flags.DEFINE_list('seeds', ['0'], 'Seeds (initialisation and batch order).')
_OVERRIDE = flags.DEFINE_multi_string('override', [], 'KEY=VALUE for every schedule.')


def schedule(base, name: str, seed: int):
  config = base.copy_and_resolve_references()
  config.seed = seed
  if name == 'fast':
    defaults.with_schedule(config, 'fast')
  elif name == 'full':
    config.search.start = 'deepest'
    config.warmup.epochs = 0
  elif name != 'paper':
    raise app.UsageError(f'--schedules: {name!r} is not one of {SCHEDULES}')
  values = {}
  for item in _OVERRIDE.value:
    key, sep, value = item.partition('=')
    if not sep:
      raise app.UsageError(f'--override={item}: expected KEY=VALUE')
    try:
      values[key] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      values[key] = value  # a bare string such as grow.init=trained
  config.update_from_flattened_dict(values)
  return config


def training_flops(history, config, forward, examples_per_epoch) -> float:
  """FLOPs of every epoch the history records: 3x forward (forward + backward) per training
  example, and one forward per example that recomputes BatchNorm statistics."""
  total = 0.0
  for record in history:
    if record['phase'] == search.WARMUP:
      depths = len(forward)
      per_example = (forward[depths - 1] if config.warmup.one_pass
                     else sum(forward[:depths]))
      stats_forward = forward[depths - 1]
    else:
      per_example = stats_forward = forward[record['depth'] - 1]
    total += 3 * per_example * examples_per_epoch
    total += stats_forward * config.precise_bn_batches * config.batch_size
  return total


def run(config, workdir, forward, ds) -> dict:
  summary = trainer.train_and_evaluate(config, workdir, quiet=True)
  history = record_files.load_history(workdir)
  return {'epochs': summary['epochs_total'], 'wall_clock_s': summary['wall_clock_s'],
          'training_tflops': training_flops(history, config, forward,
                                            ds.num_examples['train']) / 1e12,
          'optimal_depth': summary['optimal_depth'], 'test_accuracy': summary['test_accuracy'],
          'val_accuracy': summary['val_accuracy'],
          'epochs_by_depth': {r['depth']: r['epochs'] for r in summary['per_depth']}}


def spread(rows, key):
  values = np.array([r[key] for r in rows], np.float64)
  return {'mean': round(float(values.mean()), 3), 'min': round(float(values.min()), 3),
          'max': round(float(values.max()), 3)}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # Orbax logs every checkpoint at INFO
  base = _CONFIG.value
  ds = data.load(base)
  model = models.from_config(base, ds.num_classes)
  forward = [size.forward_flops(model, ds.input_shape, d) for d in range(1, model.max_depth + 1)]
  results = {}
  for name in _SCHEDULES.value:
    rows = []
    for seed in map(int, _SEEDS.value):
      row = run(schedule(base, name, seed), os.path.join(_WORKDIR.value, f'{name}_seed{seed}'),
                forward, ds)
      print(json.dumps({'schedule': name, 'seed': seed, **row}), flush=True)
      rows.append(row)
    results[name] = {'runs': rows, **{k: spread(rows, k) for k in (
        'epochs', 'wall_clock_s', 'training_tflops', 'optimal_depth', 'test_accuracy')}}
  if {'paper', 'fast'} <= set(results):
    paper, fast = results['paper'], results['fast']
    results['fast_over_paper'] = {
        'wall_clock': round(fast['wall_clock_s']['mean'] / paper['wall_clock_s']['mean'], 3),
        'training_flops': round(fast['training_tflops']['mean']
                                / paper['training_tflops']['mean'], 3),
        'test_accuracy_points': round(fast['test_accuracy']['mean']
                                      - paper['test_accuracy']['mean'], 2)}
  print(json.dumps({'dataset': ds.name, 'arch': base.model.arch, 'width': base.model.width,
                    'train_examples': ds.num_examples['train'],
                    **{k: {kk: vv for kk, vv in v.items() if kk != 'runs'}
                       if isinstance(v, dict) and 'runs' in v else v
                       for k, v in results.items()}}, indent=1))


if __name__ == '__main__':
  app.run(main)
