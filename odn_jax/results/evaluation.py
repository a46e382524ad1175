"""Every head of a run's networks in one pass over a split: the full tree, each converged
depth, and the extracted subnet.

  run = evaluation.load_run(workdir)           # config, dataset, the subnet's description
  out = evaluation.head_outputs(run.model, variables, run.ds.eval_batches('test'), depth)
  out.accuracy                                 # percent, one per head the weights hold

`head_outputs` keeps, for every example, what each head predicts and how sure it is (its
largest softmax probability), which is all `odn_jax.results.early_exit` needs. It runs
`models.predict_heads`, the program validation runs during training.
"""

import dataclasses
from typing import Iterable

import jax
import ml_collections
import numpy as np

from odn_jax import data, models
from odn_jax.deploy import subnet
from odn_jax.errors import FlagError, NotFoundError
from odn_jax.models import block_key, ResNet
from odn_jax.run import checkpoint, parallel, record_files, workdir as workdir_lib
from odn_jax.run.records import ModelInfo


@dataclasses.dataclass
class HeadOutputs:
  """Per-example results of heads `heads` (1-based depths) over one split."""
  heads: list[int]
  prediction: np.ndarray  # int32 [N, len(heads)]
  confidence: np.ndarray  # float32 [N, len(heads)]: largest softmax probability
  labels: np.ndarray  # int32 [N]

  @property
  def correct(self) -> np.ndarray:
    return self.prediction == self.labels[:, None]

  @property
  def accuracy(self) -> list[float]:
    """Percent correct of each head, computed as the trainer's validation computes it."""
    count = max(len(self.labels), 1)
    return [100.0 * float(c) / count for c in self.correct.sum(axis=0, dtype=np.float64)]


def head_outputs(model: ResNet, variables: dict, batches: Iterable[dict],
                 depth: int) -> HeadOutputs:
  """Runs every head up to `depth` that `variables` hold, in one pass over `batches`
  (padded batches with a 'mask', as `Dataset.eval_batches` yields them)."""
  heads = models.heads_held(variables['params'], depth)
  if not heads:
    raise ValueError(f'the weights hold no head up to depth {depth}')
  # On the device once, not with every batch; uncommitted, so sharded batches may use them.
  params, state = jax.device_put((variables['params'], variables['state']))
  predictions, confidences, labels = [], [], []
  for batch in batches:
    if not getattr(batch['image'], 'is_fully_addressable', True) and not predictions:
      # A global batch of a multi-host run: the weights go onto its mesh once.
      params, state = parallel.replicate((params, state), batch['image'].sharding.mesh)
    out = models.predict_heads(params, state, batch['image'], model=model, depth=depth)
    # A batch sharded over hosts is gathered whole: every host sees every example.
    out, batch = parallel.to_host((out, batch))
    keep = batch['mask'] > 0
    predictions.append(out['prediction'].T[keep])
    confidences.append(out['confidence'].T[keep])
    labels.append(batch['label'][keep])
  if not labels:
    raise ValueError('evaluation split is empty')
  return HeadOutputs(heads, np.concatenate(predictions), np.concatenate(confidences),
                     np.concatenate(labels).astype(np.int32))


# --------------------------------------------------------------------------- a run's weights

@dataclasses.dataclass
class Run:
  """What evaluating a workdir needs: its config, data, and the subnet's description."""
  workdir: str
  config: ml_collections.ConfigDict
  ds: data.Dataset
  info: ModelInfo | None  # optimal/model.json, None before the run has finished

  @property
  def model(self) -> ResNet:
    """The network the run trained and measured, in the dtype it computed in."""
    if self.info is not None:
      return models.from_info(self.info)
    return models.from_config(self.config, self.ds.num_classes)


def load_run(workdir: str, ds: data.Dataset | None = None) -> Run:
  """A finished or unfinished run; `ds` (a loaded dataset) saves reading the data again."""
  config = workdir_lib.load_config(workdir)
  if ds is None:
    ds = data.load(config)
  finished = workdir_lib.model_info_path(workdir).is_file()
  return Run(workdir, config, ds, record_files.load_model_info(workdir) if finished else None)


def load_weights(workdir: str, weights: str = 'optimal') -> tuple[dict, int]:
  """(variables, depth): the extracted subnet ('optimal'), or the full tree of the latest
  checkpoint ('full', every block and head)."""
  if weights == 'optimal':
    variables, info = subnet.load(workdir)
    return variables, info.depth
  if weights == 'full':
    variables = jax.tree.map(np.asarray, checkpoint.restore_full_variables(workdir))
    depth = 0
    while block_key(depth + 1) in variables['params']:
      depth += 1
    return variables, depth
  raise FlagError(f"weights must be 'optimal' or 'full', got {weights!r}")


def head_accuracies(run: Run, split: str, weights: str) -> tuple[list[int], list[float]]:
  """(heads, accuracy of each, percent) of `weights` of `run`, in one pass over `split`."""
  variables, depth = load_weights(run.workdir, weights)
  out = head_outputs(run.model, variables, run.ds.eval_batches(split), depth)
  return out.heads, out.accuracy


def evaluate_run(run: Run, split: str = 'test', full: bool = True, tags: bool = True,
                 subnet_too: bool = True) -> dict:
  """Accuracy (percent) of every head of the full tree, of each depth tag, and of the
  extracted subnet, on `split`. Sections whose weights do not exist yet are left out."""
  model, ds = run.model, run.ds
  result = {'workdir': str(workdir_lib.path(run.workdir)), 'split': split,
            'examples': int(ds.num_examples[split]) if split in ds.num_examples else None}
  if full:
    try:
      variables, depth = load_weights(run.workdir, 'full')
    except NotFoundError:
      pass
    else:
      out = head_outputs(model, variables, ds.eval_batches(split), depth)
      result['full'] = {'heads': out.heads, 'accuracy_per_head': out.accuracy}
  if tags:
    rows = []
    for depth, path in workdir_lib.depth_tags(run.workdir).items():
      out = head_outputs(model, checkpoint.load_variables(path), ds.eval_batches(split), depth)
      rows.append({'depth': depth, 'accuracy': out.accuracy[-1]})
    result['depth_tags'] = rows
  if subnet_too and run.info is not None:
    variables, info = subnet.load(run.workdir)
    out = head_outputs(model, variables, ds.eval_batches(split), info.depth)
    result['subnet'] = {'depth': info.depth, 'heads': out.heads,
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
