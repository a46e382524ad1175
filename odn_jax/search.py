"""The expansion controller: warmup -> grow(d) -> finetune(d) -> done.

Every decision is a pure function of the per-epoch history and the config, so the
whole policy is tested on scripted histories without training anything, and a
resumed run re-derives exactly the position of an uninterrupted one.

A history is a list of epoch records, dicts with at least
  phase ('warmup' | 'grow' | 'finetune'), depth, val_accuracy (percent),
as the trainer appends them after every epoch.
"""

import dataclasses
import math
from typing import Sequence

import ml_collections

from odn_jax.models import num_blocks

WARMUP, GROW, FINETUNE, DONE = 'warmup', 'grow', 'finetune', 'done'


@dataclasses.dataclass(frozen=True)
class Plan:
  """What to do next: train `phase` at `depth` with `learning_rate`, and why."""
  phase: str
  depth: int
  learning_rate: float
  reason: str = ''


@dataclasses.dataclass(frozen=True)
class Segment:
  """The trailing epochs trained in one phase at one depth."""
  phase: str
  depth: int
  epochs: int
  best_val_accuracy: float  # rounded as the reference compares
  best_epoch: int  # index into the segment, 0-based
  since_best: int  # epochs after the best one
  learning_rate: float  # for the segment's next epoch, after plateau decays


def max_depth(config: ml_collections.ConfigDict) -> int:
  blocks = num_blocks(config.model.arch)
  depth = config.model.max_depth or blocks
  if not 1 <= depth <= blocks:
    raise ValueError(f'config.model.max_depth must be in 1..{blocks} (0 for all) for '
                     f'{config.model.arch}, got {config.model.max_depth}')
  return depth


def phase_learning_rate(phase: str, config, seg: Segment | None = None) -> float:
  """The rate a phase starts with; fine-tuning continues from `seg`'s unless configured."""
  if phase == FINETUNE and config.search.finetune_learning_rate is not None:
    return config.search.finetune_learning_rate
  if phase == FINETUNE and seg is not None:
    return seg.learning_rate
  return config.search.learning_rate


def segment(history: Sequence[dict], config) -> Segment:
  """Statistics of the last (phase, depth) run of `history` (non-empty)."""
  phase, depth = history[-1]['phase'], history[-1]['depth']
  records = []
  for record in reversed(history):
    if (record['phase'], record['depth']) != (phase, depth):
      break
    records.append(record)
  records.reverse()
  decimals = (config.search.finetune_decimals if phase == FINETUNE
              else config.search.grow_decimals)
  # The rate a segment started with is in its first record (fine-tuning continues from the
  # rate growth ended with); scripted histories without one start from the phase's rate.
  learning_rate = records[0].get('learning_rate', phase_learning_rate(phase, config))
  best, best_epoch, flat = -math.inf, 0, 0
  for i, record in enumerate(records):
    accuracy = round(record['val_accuracy'], decimals)
    if accuracy > best:
      best, best_epoch, flat = accuracy, i, 0
    else:
      flat += 1
      # The reference's plateau schedule: lr *= factor after every `plateau_patience`
      # epochs without improvement, counting afresh after each decay.
      if flat >= config.search.plateau_patience:
        learning_rate *= config.search.plateau_factor
        flat = 0
  return Segment(phase, depth, len(records), best, best_epoch,
                 len(records) - 1 - best_epoch, learning_rate)


def start_plan(config) -> Plan:
  if config.warmup.epochs > 0:
    return Plan(WARMUP, max_depth(config), config.warmup.learning_rate, 'warm-up of every head')
  return Plan(GROW, 1, config.search.learning_rate, 'no warm-up configured')


def next_plan(history: Sequence[dict], config) -> Plan:
  """The controller: where the search goes after the last epoch of `history`."""
  if not history:
    return start_plan(config)
  last = history[-1]
  if len(history) >= config.search.max_epochs_total:
    return Plan(DONE, last['depth'], 0.0,
                f'epoch cap reached ({config.search.max_epochs_total} in total)')

  if last['phase'] == WARMUP:
    if len(history) < config.warmup.epochs:
      return Plan(WARMUP, last['depth'], config.warmup.learning_rate)
    return Plan(GROW, 1, config.search.learning_rate, 'warm-up finished; start at depth 1')

  seg = segment(history, config)
  capped = seg.epochs >= config.search.max_epochs_per_depth
  if seg.since_best < config.search.patience and not capped:
    return Plan(seg.phase, seg.depth, seg.learning_rate)
  why = (f'cap of {config.search.max_epochs_per_depth} epochs' if capped
         else f'no improvement for {config.search.patience} epochs')
  why = f'depth {seg.depth} converged at {seg.best_val_accuracy:g}% ({why})'
  if seg.phase == FINETUNE:
    return Plan(DONE, seg.depth, 0.0, f'fine-tuned: {why}')
  return after_convergence(seg, why, config)


def after_convergence(seg: Segment, why: str, config) -> Plan:
  """Grow or settle once the depth being grown has converged (the paper's target rule)."""
  goal = config.search.target - config.search.tolerance
  finetune_lr = phase_learning_rate(FINETUNE, config, seg)
  if seg.best_val_accuracy >= goal:
    return Plan(FINETUNE, seg.depth, finetune_lr, f'{why}; reached target - tolerance {goal:g}%')
  if seg.depth >= max_depth(config):
    return Plan(FINETUNE, seg.depth, finetune_lr, f'{why}; maximum depth, fine-tune as is')
  return Plan(GROW, seg.depth + 1, config.search.learning_rate, f'{why}; below {goal:g}%, grow')


def per_depth(history: Sequence[dict]) -> dict[int, dict]:
  """Epochs and best (unrounded) validation accuracy of every depth trained after warm-up."""
  rows = {}
  for record in history:
    if record['phase'] not in (GROW, FINETUNE):
      continue
    row = rows.setdefault(record['depth'], {'depth': record['depth'], 'epochs': 0,
                                            'best_val_accuracy': -math.inf})
    row['epochs'] += 1
    row['best_val_accuracy'] = max(row['best_val_accuracy'], record['val_accuracy'])
  return dict(sorted(rows.items()))
