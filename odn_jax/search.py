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

from odn_jax.errors import ConfigError
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
  since_best: int  # epochs after the last improvement (by more than search.min_delta)
  learning_rate: float  # for the segment's next epoch, after plateau decays


def max_depth(config: ml_collections.ConfigDict) -> int:
  blocks = num_blocks(config.model.arch)
  depth = config.model.max_depth or blocks
  if not 1 <= depth <= blocks:
    raise ConfigError(f'config.model.max_depth must be in 1..{blocks} (0 for all) for '
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
  min_delta = config.search.min_delta
  # The rate a segment started with is in its first record (fine-tuning continues from the
  # rate growth ended with); scripted histories without one start from the phase's rate.
  learning_rate = records[0].get('learning_rate', phase_learning_rate(phase, config))
  best, best_epoch, last_gain, gain_epoch, flat = -math.inf, 0, -math.inf, 0, 0
  for i, record in enumerate(records):
    accuracy = round(record['val_accuracy'], decimals)
    if accuracy > best:
      best, best_epoch = accuracy, i
    # An improvement beats the last improvement (not the best) by more than min_delta: with
    # min_delta 0 the two are the same; above it, small gains add up until they count.
    if accuracy > last_gain + min_delta:
      last_gain, gain_epoch, flat = accuracy, i, 0
    else:
      flat += 1
      # The reference's plateau schedule: lr *= factor after every `plateau_patience`
      # epochs without improvement, counting afresh after each decay.
      if flat >= config.search.plateau_patience:
        learning_rate *= config.search.plateau_factor
        flat = 0
  return Segment(phase, depth, len(records), best, best_epoch,
                 len(records) - 1 - gain_epoch, learning_rate)


MODES = ('target', 'saturation', 'budget')
STARTS = ('shallowest', 'profile')
BUDGET_KEYS = ('params', 'bytes', 'flops')


def check_config(config):
  """Refuses search settings the controller cannot follow, naming the key and the fix."""
  max_depth(config)
  s = config.search
  if s.mode not in MODES:
    raise ConfigError(f'config.search.mode must be one of {MODES}, got {s.mode!r}')
  if s.start not in STARTS:
    raise ConfigError(f'config.search.start must be one of {STARTS}, got {s.start!r}')
  if not 0 < s.target <= 100:
    raise ConfigError(f'config.search.target must be in (0, 100], got {s.target}')
  for key in ('tolerance', 'min_gain', 'start_margin', 'min_delta'):
    if s[key] < 0:
      raise ConfigError(f'config.search.{key} must be >= 0, got {s[key]}')
  for key in ('patience', 'plateau_patience', 'max_epochs_per_depth', 'max_epochs_total'):
    if s[key] < 1:
      raise ConfigError(f'config.search.{key} must be >= 1, got {s[key]}')
  if s.mode == 'budget' and not any(s.budget[k] for k in BUDGET_KEYS):
    raise ConfigError("config.search.mode='budget' needs a limit: set config.search.budget"
                     '.params, .bytes or .flops')


def depth_limit(config, sizes: Sequence[dict] | None = None) -> int:
  """The deepest depth the search may train: max_depth, and in budget mode what fits.

  `sizes` are the rows of `odn_jax.size.depth_table` (params, bytes, flops per depth).
  """
  limit = max_depth(config)
  if config.search.mode != 'budget':
    return limit
  if sizes is None:
    raise ValueError('budget mode needs the size of every depth')
  budget = config.search.budget
  fits = [row['depth'] for row in sizes if row['depth'] <= limit and all(
      not budget[k] or row[k] <= budget[k] for k in BUDGET_KEYS)]
  if not fits:
    raise ConfigError(f'no depth fits config.search.budget ({budget.to_dict()}); depth 1 '
                     f'needs {dict((k, sizes[0][k]) for k in BUDGET_KEYS)}')
  return max(fits)


def target_goal(config) -> float:
  """The validation accuracy at which target mode stops growing: target - tolerance."""
  return config.search.target - config.search.tolerance


def start_plan(config) -> Plan:
  if config.warmup.epochs > 0:
    return Plan(WARMUP, max_depth(config), config.warmup.learning_rate, 'warm-up of every head')
  return Plan(GROW, 1, config.search.learning_rate, 'no warm-up configured')


def start_depth(warmup_profile: Sequence[float], config, limit: int) -> tuple[int, str]:
  """Where growth starts after warm-up: depth 1, or where the warm-up profile says."""
  if config.search.start == 'shallowest' or not warmup_profile:
    return 1, 'start at depth 1'
  profile = list(warmup_profile)[:limit]
  best = max(profile)
  depth = next(d for d, acc in enumerate(profile, 1) if acc >= best - config.search.start_margin)
  return depth, (f'warm-up profile: depth {depth} is within {config.search.start_margin:g} '
                 f'points of the best head ({best:.2f}%)')


def warmup_profile(history: Sequence[dict]) -> list[float]:
  """Validation accuracy of every head at the end of warm-up (empty without warm-up)."""
  warmups = [h for h in history if h['phase'] == WARMUP]
  return list(warmups[-1].get('val_accuracy_per_head', [])) if warmups else []


def next_plan(history: Sequence[dict], config, sizes: Sequence[dict] | None = None) -> Plan:
  """The controller: where the search goes after the last epoch of `history`."""
  if not history:
    return start_plan(config)
  last = history[-1]
  if len(history) >= config.search.max_epochs_total:
    return Plan(DONE, last['depth'], 0.0,
                f'epoch cap reached ({config.search.max_epochs_total} in total)')

  limit = depth_limit(config, sizes)
  if last['phase'] == WARMUP:
    if len(history) < config.warmup.epochs:
      return Plan(WARMUP, last['depth'], config.warmup.learning_rate)
    depth, why = start_depth(warmup_profile(history), config, limit)
    return Plan(GROW, depth, config.search.learning_rate, f'warm-up finished; {why}')

  seg = segment(history, config)
  capped = seg.epochs >= config.search.max_epochs_per_depth
  # With finetune_at_target a depth that reached the target is done growing at once: more
  # epochs at it cannot change the depth chosen, they are fine-tuning.
  at_target = (config.search.finetune_at_target and config.search.mode == 'target'
               and seg.phase == GROW and seg.best_val_accuracy >= target_goal(config))
  converged = capped or seg.since_best >= config.search.patience
  if not converged and not at_target:
    return Plan(seg.phase, seg.depth, seg.learning_rate)
  if converged:
    why = (f'cap of {config.search.max_epochs_per_depth} epochs' if capped
           else f'no improvement for {config.search.patience} epochs')
    why = f'depth {seg.depth} converged at {seg.best_val_accuracy:g}% ({why})'
  else:
    why = f'depth {seg.depth} reached {seg.best_val_accuracy:g}%'
  if seg.phase == FINETUNE:
    return Plan(DONE, seg.depth, 0.0, f'fine-tuned: {why}')
  return after_convergence(history, seg, why, config, limit)


def after_convergence(history, seg: Segment, why: str, config, limit: int) -> Plan:
  """Grow, or choose the depth to fine-tune, once the depth being grown has converged."""
  mode = config.search.mode
  goal = target_goal(config)
  best = {d: row['best_val_accuracy'] for d, row in per_depth(history).items()}

  def finetune(depth, reason):
    return Plan(FINETUNE, depth, phase_learning_rate(FINETUNE, config, seg), f'{why}; {reason}')

  def grow(reason):
    return Plan(GROW, seg.depth + 1, config.search.learning_rate, f'{why}; {reason}')

  if mode == 'saturation':
    # Growth pays while depth d+1 beats depth d by min_gain; then take the shallowest
    # depth within min_gain of the best seen.
    min_gain = config.search.min_gain
    gain = best[seg.depth] - best.get(seg.depth - 1, -math.inf)
    if gain >= min_gain and seg.depth < limit:
      if seg.depth - 1 not in best:
        return grow('no shallower depth to compare with, grow')
      return grow(f'gain {gain:.2f} >= {min_gain:g} points, grow')
    top = max(best.values())
    depth = min(d for d, acc in best.items() if acc >= top - min_gain)
    stop = 'maximum depth' if gain >= min_gain else f'gain {gain:.2f} < {min_gain:g} points'
    return finetune(depth, f'{stop}; depth {depth} is within {min_gain:g} of the best')

  if seg.best_val_accuracy >= goal:
    return finetune(seg.depth, f'reached target - tolerance {goal:g}%')
  if seg.depth < limit:
    return grow(f'below {goal:g}%, grow')
  if mode == 'budget':
    top = max(best.values())
    depth = min(d for d, acc in best.items() if acc == top)
    return finetune(depth, f'depth {limit} is the deepest within the budget; '
                           f'depth {depth} is the best that fits')
  return finetune(seg.depth, 'maximum depth, fine-tune as is')


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
