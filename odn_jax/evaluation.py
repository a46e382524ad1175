"""Every head of a run's networks in one pass over a split: the full tree, each converged
depth, and the extracted subnet.

  run = evaluation.load_run(workdir)           # config, dataset, where the weights are
  out = evaluation.head_outputs(model, variables, ds.eval_batches('test'), depth)
  out.accuracy                                 # percent, one per head the weights hold

`head_outputs` keeps, for every example, whether each head is right and how sure it is
(its largest softmax probability), which is all `odn_jax.early_exit` needs.
"""

import dataclasses
import functools
import json
import os
from typing import Iterable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from odn_jax import checkpoint
from odn_jax.models import ResNet, block_key, head_key

CONFIG = 'config.json'


@dataclasses.dataclass
class HeadOutputs:
  """Per-example results of heads `heads` (1-based depths) over one split."""
  heads: list[int]
  correct: np.ndarray  # bool [N, len(heads)]
  confidence: np.ndarray  # float32 [N, len(heads)]: max softmax probability
  prediction: np.ndarray  # int32 [N, len(heads)]
  labels: np.ndarray  # int32 [N]

  @property
  def accuracy(self) -> list[float]:
    """Percent correct of each head, computed as the trainer's evaluation computes it."""
    count = max(len(self.labels), 1)
    return [100.0 * float(c) / count for c in self.correct.sum(axis=0, dtype=np.float64)]


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run was started with (its workdir's config.json)."""
  path = os.path.join(workdir, CONFIG)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path} does not exist; pass the --workdir of a training run')
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def build_model(info: dict) -> ResNet:
  """The network a saved model.json describes (float32 inference)."""
  return ResNet(info['arch'], info['num_classes'], info['width'])


def heads_held(params: dict, depth: int) -> list[int]:
  return [d for d in range(1, depth + 1) if head_key(d) in params]


@functools.lru_cache(maxsize=None)
def _forward(model: ResNet, depth: int, heads: tuple[int, ...]):
  """jit: (params, state, images) -> (prediction, confidence) [H, B] of `heads`."""

  @jax.jit
  def forward(params, state, images):
    outputs, _ = model.features(params, state, images, depth, train=False)
    logits = [model.head(params, d, outputs[d - 1]) for d in heads]
    prediction = jnp.stack([l.argmax(-1) for l in logits])
    confidence = jnp.stack([jax.nn.softmax(l).max(-1) for l in logits])
    return prediction, confidence

  return forward


def head_outputs(model: ResNet, variables: dict, batches: Iterable[dict],
                 depth: int) -> HeadOutputs:
  """Runs every head up to `depth` that `variables` hold, in one pass over `batches`
  (padded batches with a 'mask', as `Dataset.eval_batches` yields them)."""
  params, state = variables['params'], variables['state']
  heads = heads_held(params, depth)
  if not heads:
    raise ValueError(f'the weights hold no head up to depth {depth}')
  forward = _forward(model, depth, tuple(heads))
  predictions, confidences, labels = [], [], []
  for batch in batches:
    prediction, confidence = forward(params, state, batch['image'])
    keep = np.asarray(batch['mask']) > 0
    predictions.append(np.asarray(prediction).T[keep])
    confidences.append(np.asarray(confidence).T[keep])
    labels.append(np.asarray(batch['label'])[keep])
  if not labels:
    raise ValueError('evaluation split is empty')
  prediction, labels = np.concatenate(predictions), np.concatenate(labels)
  return HeadOutputs(heads, prediction == labels[:, None], np.concatenate(confidences),
                     prediction.astype(np.int32), labels.astype(np.int32))


# --------------------------------------------------------------------------- a run's weights

def depth_tags(workdir: str) -> dict[int, str]:
  """{depth: path} of the best weights saved when each depth converged."""
  root = os.path.join(workdir, 'checkpoints')
  tags = {}
  if os.path.isdir(root):
    for name in os.listdir(root):
      if name.startswith('depth_') and name[6:].isdigit():
        tags[int(name[6:])] = checkpoint.depth_path(workdir, int(name[6:]))
  return dict(sorted(tags.items()))


@dataclasses.dataclass
class Run:
  """What evaluating a workdir needs: its config, data, and the subnet's description."""
  workdir: str
  config: ml_collections.ConfigDict
  ds: object
  info: dict | None  # optimal/model.json, None before the run has finished

  @property
  def model(self) -> ResNet:
    if self.info is not None:
      return build_model(self.info)
    return ResNet(self.config.model.arch, self.ds.num_classes, self.config.model.width)


def load_run(workdir: str, ds=None) -> Run:
  """A finished or unfinished run; `ds` (a loaded dataset) saves reading the data again."""
  from odn_jax import data  # pylint: disable=g-import-not-at-top
  config = load_config(workdir)
  if ds is None:
    ds = data.load(config)
  info = None
  info_file = os.path.join(checkpoint.optimal_path(workdir), 'model.json')
  if os.path.isfile(info_file):
    with open(info_file) as f:
      info = json.load(f)
  return Run(workdir, config, ds, info)


def subnet(workdir: str) -> tuple[dict, dict]:
  """(variables, model_info) of the extracted optimal subnet."""
  path = checkpoint.optimal_path(workdir)
  if not os.path.isdir(path):
    raise FileNotFoundError(f'{path} does not exist: the run in {workdir} has not finished '
                            '(rerun launch/train.py with the same flags to complete it)')
  return checkpoint.load_variables(path)


def evaluate_run(run: Run, split: str = 'test', full: bool = True, tags: bool = True,
                 subnet_too: bool = True) -> dict:
  """Accuracy (percent) of every head of the full tree, of each depth tag, and of the
  extracted subnet, on `split`. Sections whose weights do not exist yet are left out."""
  model, ds = run.model, run.ds
  result = {'workdir': os.path.abspath(run.workdir), 'split': split,
            'examples': int(ds.num_examples[split]) if split in ds.num_examples else None}
  if full:
    try:
      variables, depth = load_weights(run.workdir, 'full')
    except FileNotFoundError:
      pass
    else:
      out = head_outputs(model, variables, ds.eval_batches(split), depth)
      result['full'] = {'heads': out.heads, 'accuracy_per_head': out.accuracy}
  if tags:
    rows = []
    for depth, path in depth_tags(run.workdir).items():
      variables, _ = checkpoint.load_variables(path)
      out = head_outputs(model, variables, ds.eval_batches(split), depth)
      rows.append({'depth': depth, 'accuracy': out.accuracy[-1]})
    result['depth_tags'] = rows
  if subnet_too and run.info is not None:
    variables, info = subnet(run.workdir)
    out = head_outputs(model, variables, ds.eval_batches(split), info['depth'])
    result['subnet'] = {'depth': info['depth'], 'heads': out.heads,
                        'accuracy_per_head': out.accuracy, 'accuracy': out.accuracy[-1]}
  return result


def format_result(result: dict) -> str:
  """The table `launch/evaluate.py` prints."""
  lines = [f'{result["workdir"]}: {result["split"]} split'
           + (f', {result["examples"]:,} examples' if result.get('examples') else '')]
  if 'full' in result:
    full = result['full']
    lines.append('full tree of the latest checkpoint, every head in one pass:')
    lines.append('  ' + '  '.join(f'd{d}: {a:.2f}%' for d, a in
                                  zip(full['heads'], full['accuracy_per_head'])))
  if result.get('depth_tags'):
    lines.append('best weights of each converged depth (checkpoints/depth_NN):')
    lines.append('  ' + '  '.join(f'd{r["depth"]}: {r["accuracy"]:.2f}%'
                                  for r in result['depth_tags']))
  if 'subnet' in result:
    sub = result['subnet']
    lines.append(f'extracted subnet (optimal/, depth {sub["depth"]}): {sub["accuracy"]:.2f}%'
                 + ('' if len(sub['heads']) < 2 else '; its early exits: ' + '  '.join(
                     f'd{d}: {a:.2f}%' for d, a in zip(sub['heads'], sub['accuracy_per_head']))))
  else:
    lines.append('no extracted subnet yet (the run has not finished)')
  return '\n'.join(lines)


def load_weights(workdir: str, weights: str = 'optimal') -> tuple[dict, int]:
  """(variables, depth): the extracted subnet ('optimal'), or the full tree of the latest
  checkpoint ('full', every block and head)."""
  if weights == 'optimal':
    variables, info = subnet(workdir)
    return variables, info['depth']
  if weights == 'full':
    variables = jax.tree.map(np.asarray, checkpoint.restore_full_variables(workdir))
    depth = 0
    while block_key(depth + 1) in variables['params']:
      depth += 1
    return variables, depth
  raise ValueError(f"weights must be 'optimal' or 'full', got {weights!r}")


def head_accuracies_of(run: Run, split: str, weights: str) -> tuple[list[int], list[float]]:
  """(heads, accuracy of each, percent) of `weights` of `run`, in one pass over `split`."""
  variables, depth = load_weights(run.workdir, weights)
  out = head_outputs(run.model, variables, run.ds.eval_batches(split), depth)
  return out.heads, out.accuracy


def head_accuracies(workdir: str, split: str = 'test', weights: str = 'optimal',
                    ds=None) -> list[float]:
  """Accuracy (percent) of every head `weights` hold, in one pass over `split`."""
  return head_accuracies_of(load_run(workdir, ds), split, weights)[1]
