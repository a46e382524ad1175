r"""Accuracy of every depth head of a run, in one pass over a split.

  python launch/evaluate.py --workdir=DIR [--split=test] [--weights=optimal|full] [--json]
  python launch/evaluate.py --workdir=DIR --early_exit     # accuracy vs FLOPs per threshold
"""

import json

from absl import flags

from odn_jax import data, early_exit, evaluation, size, trainer
from odn_jax.launch_utils import run_main

_WORKDIR = flags.DEFINE_string('workdir', None, 'Workdir of a launch/train.py run.')
_SPLIT = flags.DEFINE_string('split', 'test', 'train | validation | test')
_WEIGHTS = flags.DEFINE_enum('weights', 'optimal', ['optimal', 'full'],
                             'The extracted subnet, or the full tree at the last checkpoint.')
_EARLY_EXIT = flags.DEFINE_bool('early_exit', False, 'Sweep early-exit thresholds.')
_JSON = flags.DEFINE_bool('json', False, 'Print JSON.')
flags.mark_flag_as_required('workdir')


def main(argv):
  del argv
  workdir, split = _WORKDIR.value, _SPLIT.value
  config = evaluation.load_config(workdir)
  ds = data.load(config)
  if _EARLY_EXIT.value:
    variables, depth = evaluation.load_weights(workdir, _WEIGHTS.value)
    model = trainer.build_model(config, ds.num_classes)
    probs, labels = early_exit.head_probabilities(model, variables, ds.eval_batches(split),
                                                  depth)
    flops = [size.forward_flops(model, ds.input_shape, d) for d in range(1, depth + 1)]
    rows = early_exit.sweep(probs, labels, flops)
    if _JSON.value:
      print(json.dumps(rows, indent=1))
      return
    print(f'{"threshold":>9} {"accuracy":>9} {"MFLOPs/example":>15}  exits per head')
    for r in rows:
      print(f'{r["threshold"]:>9.2f} {r["accuracy"]:>8.2f}% {r["mean_flops"] / 1e6:>15.2f}  '
            f'{r["exits_per_head"]}')
    return
  accuracies = evaluation.head_accuracies(workdir, split, _WEIGHTS.value, ds)
  rows = [{'depth': d, 'accuracy': a} for d, a in enumerate(accuracies, 1)]
  if _JSON.value:
    print(json.dumps({'split': split, 'weights': _WEIGHTS.value, 'heads': rows}, indent=1))
    return
  print(f'{_WEIGHTS.value} weights, {split} split')
  for r in rows:
    print(f'head {r["depth"]:>2}: {r["accuracy"]:6.2f}%')


if __name__ == '__main__':
  run_main(main)
