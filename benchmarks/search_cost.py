r"""The whole search under two schedules, on the same data: the paper's and odn_jax's.

  paper   : warm-up as one forward/backward per depth, the warm-up weights reloaded at
            every expansion (grow.init='warmup'), patience 23.
  odn_jax : one-pass warm-up, trained weights carried over with function-preserving
            growth (grow.init='identity'), and a shorter patience (--odn_patience);
            --odn_start=profile also starts at the warm-up profile's depth.

  python benchmarks/search_cost.py --config=configs/fashion_mnist.py \
      --config.data.data_dir=/tmp/tfds --config.model.arch=resnet18 --config.model.width=16 \
      --config.data.train_subset=5000 --config.data.num_val=2000 --config.search.target=88 \
      --workdir=/tmp/search_cost

Reports, per schedule: epochs, wall-clock, training FLOPs (3x the forward FLOPs of what
each step runs, per example), optimal depth and test accuracy; then odn_jax / paper.
"""

import json
import os

from absl import app, flags
from ml_collections import config_flags

from odn_jax import data, search, size, trainer

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/fashion_mnist.py', 'Base config.')
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/odn_search_cost', 'One subfolder per schedule.')
_PAPER_PATIENCE = flags.DEFINE_integer('paper_patience', 23, "The paper's patience.")
_ODN_PATIENCE = flags.DEFINE_integer('odn_patience', 8, "odn_jax's patience.")
_ODN_INIT = flags.DEFINE_string('odn_grow_init', 'identity', "odn_jax's grow.init.")
_ODN_START = flags.DEFINE_string('odn_start', 'shallowest', "odn_jax's search.start.")


def schedule(base, name):
  config = base.copy_and_resolve_references()
  if name == 'paper':
    config.warmup.one_pass = False
    config.grow.init = 'warmup'
    config.search.patience = _PAPER_PATIENCE.value
    config.search.start = 'shallowest'
  else:
    config.warmup.one_pass = True
    config.grow.init = _ODN_INIT.value
    config.search.patience = _ODN_PATIENCE.value
    config.search.start = _ODN_START.value
  return config


def training_flops(history, config, forward, examples_per_epoch) -> float:
  """3x forward FLOPs (forward + backward) of every training step the history records."""
  total = 0.0
  for record in history:
    if record['phase'] == search.WARMUP:
      depths = len(forward)
      per_example = (forward[depths - 1] if config.warmup.one_pass
                     else sum(forward[:depths]))
    else:
      per_example = forward[record['depth'] - 1]
    total += 3 * per_example * examples_per_epoch
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
  model = trainer.build_model(base, ds.num_classes)
  forward = [size.forward_flops(model, ds.input_shape, d) for d in range(1, model.max_depth + 1)]
  results = {}
  for name in ('paper', 'odn_jax'):
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
        'patience': config.search.patience, 'grow_init': config.grow.init,
        'warmup_one_pass': config.warmup.one_pass, 'start': config.search.start}
  paper, ours = results['paper'], results['odn_jax']
  results['odn_jax_over_paper'] = {
      'wall_clock': round(ours['wall_clock_s'] / paper['wall_clock_s'], 3),
      'training_flops': round(ours['training_tflops'] / max(paper['training_tflops'], 1e-9), 3),
      'test_accuracy_points': round(ours['test_accuracy'] - paper['test_accuracy'], 2),
      'depth_difference': ours['optimal_depth'] - paper['optimal_depth']}
  print(json.dumps({'dataset': ds.name, 'arch': base.model.arch, 'width': base.model.width,
                    'train_examples': ds.num_examples['train'], **results}, indent=1))


if __name__ == '__main__':
  app.run(main)
