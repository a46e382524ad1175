r"""Accuracy of every depth head of a run, in one pass over a split.

  odn-evaluate --workdir=DIR [--split=test] [--weights=optimal] [--json]
  odn-evaluate --workdir=DIR --weights=all   # full tree + each depth + subnet
  odn-evaluate --workdir=DIR --early_exit    # accuracy vs FLOPs per threshold

--weights: `optimal` the extracted subnet (with its early exits, heads 1..d*), `full` the full
tree of the latest epoch checkpoint (every head), `tags` the best weights each depth had
when it converged (checkpoints/depth_NN), `all` the three at once. The numbers are those
the training run measured for the same weights (validation and test accuracy).
From a clone, `python launch/evaluate.py` is the same command.
"""

import json

from absl import flags

from odn_jax.cli.main import run_main
from odn_jax.errors import FlagError, NotFoundError
from odn_jax.models import size
from odn_jax.results import early_exit, evaluation

_WORKDIR = flags.DEFINE_string('workdir', None, 'Workdir of an odn-train run.')
_SPLIT = flags.DEFINE_enum('split', 'test', ['train', 'validation', 'test'],
                           'The split of the run\'s dataset to evaluate.')
_WEIGHTS = flags.DEFINE_enum('weights', 'optimal', ['optimal', 'full', 'tags', 'all'],
                             'Which weights of the run to evaluate (see the module doc).')
_EARLY_EXIT = flags.DEFINE_bool('early_exit', False,
                                'Sweep early-exit thresholds over the subnet\'s heads.')
_THRESHOLDS = flags.DEFINE_list('thresholds', [str(t) for t in early_exit.DEFAULT_THRESHOLDS],
                                'Confidence thresholds of --early_exit, in 0..1.')
_JSON = flags.DEFINE_bool('json', False, 'Print JSON instead of a table.')
flags.mark_flag_as_required('workdir')


def thresholds() -> list[float]:
  try:
    values = [float(t) for t in _THRESHOLDS.value]
  except ValueError:
    values = [-1.0]
  if not values or not all(0.0 <= t <= 1.0 for t in values):
    raise FlagError(f'--thresholds must be numbers in 0..1, got {",".join(_THRESHOLDS.value)}')
  return values


def early_exit_main(run, split: str):
  if _WEIGHTS.value != 'optimal':
    raise FlagError('--early_exit runs through the extracted subnet\'s heads (--weights=optimal)')
  if run.info is not None and not run.info.early_exit_epochs:
    # Heads 1..d*-1 not trained on the final trunk are stale: their numbers would mislead.
    raise FlagError(f'the subnet in {run.workdir} has no early exits trained on its final '
                    'trunk (config.early_exit_epochs was 0, or the run predates them)')
  variables, depth = evaluation.load_weights(run.workdir, 'optimal')
  model = run.model
  outputs = evaluation.head_outputs(model, variables, run.ds.eval_batches(split), depth)
  flops = [size.forward_flops(model, run.ds.input_shape, d) for d in range(1, depth + 1)]
  rows = early_exit.sweep(outputs, flops, thresholds())
  heads = early_exit.per_head(outputs, flops)
  if _JSON.value:
    print(json.dumps({'split': split, 'weights': _WEIGHTS.value, 'sweep': rows,
                      'per_head': heads}, indent=1))
    return
  print(f'early exit through heads 1..{depth} of the extracted subnet, {split} split')
  print(f'{"threshold":>9} {"accuracy":>9} {"MFLOPs/example":>15}  exits per head')
  for r in rows:
    print(f'{r["threshold"]:>9.3g} {r["accuracy"]:>8.2f}% {r["mean_flops"] / 1e6:>15.3f}  '
          f'{r["exits_per_head"]}')
  print('each head alone: ' + '  '.join(f'd{h["depth"]}: {h["accuracy"]:.2f}% at '
                                        f'{h["flops"] / 1e6:.3f} MFLOPs' for h in heads))


def main(argv):
  del argv
  split = _SPLIT.value
  run = evaluation.load_run(_WORKDIR.value)
  if split not in run.ds.num_examples:
    raise FlagError(f'unknown split {split!r}; choose one of {sorted(run.ds.num_examples)}')
  if _EARLY_EXIT.value:
    early_exit_main(run, split)
    return
  if _WEIGHTS.value == 'all':
    result = evaluation.evaluate_run(run, split)
    print(json.dumps(result, indent=1) if _JSON.value else evaluation.format_result(result))
    return
  if _WEIGHTS.value == 'tags':
    rows = evaluation.evaluate_run(run, split, full=False, tags=True,
                                   subnet_too=False)['depth_tags']
    if not rows:
      raise NotFoundError(f'no converged depth under {run.workdir}/checkpoints yet')
  else:
    rows = [{'depth': d, 'accuracy': a} for d, a in
            zip(*evaluation.head_accuracies(run, split, _WEIGHTS.value))]
  if _JSON.value:
    print(json.dumps({'split': split, 'weights': _WEIGHTS.value, 'heads': rows}, indent=1))
    return
  print(f'{_WEIGHTS.value} weights, {split} split')
  for r in rows:
    print(f'head {r["depth"]:>2}: {r["accuracy"]:6.2f}%')


if __name__ == '__main__':
  run_main(main)
