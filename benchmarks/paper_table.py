r"""One row of the paper's table, reproduced: run a paper config and print both rows.

  python benchmarks/paper_table.py --config=configs/fashion_mnist.py --workdir=/tmp/paper_fm
  # from the IDX files, no TFDS needed:
  python benchmarks/paper_table.py --config=configs/fashion_mnist.py \
      --config.data.source=idx --config.data.path=/usr/share/datasets/fashion-mnist \
      --workdir=/tmp/paper_fm
  # a reduced setting (say so when reporting it), or the fast schedule:
  python benchmarks/paper_table.py --config=configs/fashion_mnist.py:fast ...

Prints (and writes to WORKDIR/paper_table.md) the paper's row beside the run's: optimal
depth, test accuracy, memory reduction, epochs, wall-clock, the device, and the settings
that differ from the paper's config file.
"""

import json
import os
import platform
import sys

from absl import app, flags, logging
import jax
from ml_collections import config_flags

from odn_jax.train import loop as trainer

# config.data.name -> (model, optimal depth, of, test accuracy %, memory reduction % or None)
PAPER = {
    'mnist': ('ResNet-18', 2, 8, 99.31, 98.64),
    'emnist/letters': ('ResNet-18', 3, 8, 95.04, None),
    'fashion_mnist': ('ResNet-34', 6, 16, 93.54, None),
    'svhn_cropped': ('ResNet-34', 5, 16, 96.08, 96.44),
    'cifar10': ('ResNet-50', 11, 16, 93.35, None),
}

_CONFIG = config_flags.DEFINE_config_file('config', None, 'A paper config.', lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Where the run goes (resumable).')
flags.mark_flags_as_required(['config', 'workdir'])


def device() -> str:
  d = jax.devices()[0]
  if d.platform == 'cpu':
    return f'CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})'
  return f'{jax.device_count()} x {d.device_kind}'


def table(config, summary: dict, overrides: list[str]) -> str:
  name = config.data.name
  if name not in PAPER:
    raise app.UsageError(f'config.data.name={name!r} is not one of the paper datasets '
                         f'{sorted(PAPER)}')
  model, depth, of, test, reduction = PAPER[name]
  pct = lambda v: '—' if v is None else f'{v:.2f} %'
  rows = [
      '| | model | optimal depth | test acc. | memory reduction | epochs | wall-clock | device |',
      '|---|---|---|---|---|---|---|---|',
      f'| paper | {model} | {depth} of {of} | {test:.2f} % | {pct(reduction)} | — | — | — |',
      f'| odn_jax ({summary["schedule"]}) | '
      f'{config.model.arch} w{config.model.width} | {summary["optimal_depth"]} of '
      f'{summary["max_depth"]} | {summary["test_accuracy"]:.2f} % | '
      f'{summary["memory_reduction_pct"]:.2f} % | {summary["epochs_total"]} | '
      f'{summary["wall_clock_s"]:.0f} s | {device()} |',
  ]
  if overrides:
    rows.append('')
    rows.append('Settings changed from the config file: ' + ' '.join(overrides))
  return '\n'.join(rows)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # Orbax logs every checkpoint at INFO
  config = _CONFIG.value
  summary = trainer.train_and_evaluate(config, _WORKDIR.value)
  if summary is None:
    return
  overrides = [a for a in sys.argv[1:] if a.startswith('--config.')]
  text = table(config, summary, overrides)
  print(text)
  with open(os.path.join(_WORKDIR.value, 'paper_table.md'), 'w') as f:
    f.write(text + '\n')
  print(json.dumps({k: summary[k] for k in ('optimal_depth', 'test_accuracy', 'val_accuracy',
                                            'memory_reduction_pct', 'epochs_total',
                                            'wall_clock_s')}))


if __name__ == '__main__':
  app.run(main)
