r"""The whole search under two schedules, on the same data: the paper's and odn_jax's.

  paper   : the reference's behaviour: warm-up as one forward/backward per depth, the
            warm-up weights reloaded at every expansion (grow.init='warmup'), patience 23
            with the learning rate decayed after 5 flat epochs, validation on BatchNorm's
            running averages, and a depth that reached the target trained until it converges.
  odn_jax : the levers of `ODN_JAX` below, each a config key; `--odn=KEY=VALUE` changes one
            (e.g. `--odn=precise_bn_batches=0 --schedules=odn_jax` measures what it buys).

  python benchmarks/search_cost.py --config=configs/fashion_mnist.py \
      --config.data.data_dir=/tmp/tfds --config.model.arch=resnet18 --config.model.width=16 \
      --config.data.train_subset=5000 --config.data.num_val=2000 --config.search.target=88 \
      --workdir=/tmp/search_cost

Reports, per schedule: epochs, wall-clock, training FLOPs (3x the forward FLOPs of what
each step runs, per example, plus the forward passes that recompute BatchNorm statistics),
optimal depth and test accuracy; then odn_jax / paper.
"""

import ast
import json
import os

from absl import app, flags
from ml_collections import config_flags

from odn_jax import data, models, search, size, trainer

PAPER = {
    'warmup.one_pass': False, 'grow.init': 'warmup', 'search.start': 'shallowest',
    'search.patience': 23, 'search.plateau_patience': 5, 'search.min_delta': 0.0,
    'precise_bn_batches': 0, 'search.finetune_at_target': False,
}
ODN_JAX = {
    'warmup.one_pass': True,  # every head in one pass
    'grow.init': 'identity',  # trained prefix carried over, new block starts as identity
    'search.start': 'shallowest',
    # Convergence read from validation on recomputed BatchNorm statistics, the rate decayed
    # after 3 flat epochs, converged after 8 (BENCHMARKS.md: shorter settings converge
    # depths early and grow past the paper's depth).
    'precise_bn_batches': 16,
    'search.min_delta': 0.0, 'search.plateau_patience': 3, 'search.patience': 8,
    'search.finetune_at_target': True,  # the depth is chosen once it reaches the target
}

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/fashion_mnist.py', 'Base config.')
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/odn_search_cost', 'One subfolder per schedule.')
_SCHEDULES = flags.DEFINE_list('schedules', ['paper', 'odn_jax'], 'Schedules to run.')
_ODN = flags.DEFINE_multi_string('odn', [], 'KEY=VALUE: changes a lever of the odn_jax schedule.')


def overrides(text: list[str]) -> dict:
  out = {}
  for item in text:
    key, sep, value = item.partition('=')
    if not sep:
      raise app.UsageError(f'--odn={item}: expected KEY=VALUE, e.g. --odn=search.patience=8')
    try:
      out[key] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      out[key] = value  # a bare string such as grow.init=trained
  return out


def levers(name) -> dict:
  return PAPER if name == 'paper' else {**ODN_JAX, **overrides(_ODN.value)}


def schedule(base, name):
  config = base.copy_and_resolve_references()
  config.update_from_flattened_dict(levers(name))
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


def seconds_by_phase(summary) -> dict:
  """Wall-clock of the warm-up, growing and fine-tuning epochs: where each lever acts."""
  out = {}
  for row in summary['compile']:
    out[row['phase']] = round(out.get(row['phase'], 0.0) + row['epochs_s'], 1)
  return out


def main(argv):
  del argv
  base = _CONFIG.value
  ds = data.load(base)
  model = models.from_config(base, ds.num_classes)
  forward = [size.forward_flops(model, ds.input_shape, d) for d in range(1, model.max_depth + 1)]
  results = {}
  for name in _SCHEDULES.value:
    config = schedule(base, name)
    summary = trainer.train_and_evaluate(config, os.path.join(_WORKDIR.value, name))
    with open(os.path.join(_WORKDIR.value, name, 'history.json')) as f:
      history = json.load(f)
    results[name] = {
        'epochs': summary['epochs_total'], 'wall_clock_s': summary['wall_clock_s'],
        'training_tflops': round(training_flops(history, config, forward, ds.steps_per_epoch
                                                * config.batch_size) / 1e12, 2),
        'optimal_depth': summary['optimal_depth'], 'test_accuracy': summary['test_accuracy'],
        'seconds_by_phase': seconds_by_phase(summary),
        'epochs_by_depth': {r['depth']: r['epochs'] for r in summary['per_depth']},
        'levers': levers(name)}
  if {'paper', 'odn_jax'} <= set(results):
    paper, ours = results['paper'], results['odn_jax']
    results['odn_jax_over_paper'] = {
        'wall_clock': round(ours['wall_clock_s'] / paper['wall_clock_s'], 3),
        'training_flops': round(ours['training_tflops'] / max(paper['training_tflops'], 1e-9),
                                3),
        'test_accuracy_points': round(ours['test_accuracy'] - paper['test_accuracy'], 2),
        'depth_difference': ours['optimal_depth'] - paper['optimal_depth']}
  print(json.dumps({'dataset': ds.name, 'arch': base.model.arch, 'width': base.model.width,
                    'train_examples': ds.num_examples['train'], **results}, indent=1))


if __name__ == '__main__':
  app.run(main)
