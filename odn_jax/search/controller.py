"""The expansion controller: warmup -> grow(d) -> finetune(d) -> done.

Every decision is a pure function of the per-epoch history and the config: `replay` folds
the history, epoch by epoch, through the rules of the paper's `train_till_convergence`, so
the whole policy is tested on scripted histories without training anything, and a resumed
run re-derives exactly the position of an uninterrupted one.

After each epoch, in this order (the paper's defaults in brackets):
  1. round the validation accuracy (1 decimal while growing, 2 once fine-tuning);
  2. it improves if it beats the depth's best (by more than `min_delta` [0]): best = it,
     counter 0; else counter + 1, and every `plateau_patience` [5]th flat epoch the rate is
     multiplied by `plateau_factor` [0.6];
  3. expansion: counter >= `patience` [23], best <= target - tolerance and not fine-tuning:
     depth + 1, best 0 (`reset_best_on_expansion`), counter 0, rate = `learning_rate` x
     `expansion_lr_scale` [0.5];
  4. the fine-tune flag is set once the counter reaches `patience`, or best >= target -
     tolerance, or the depth is the deepest allowed; it changes nothing else;
  5. stop when fine-tuning and the counter reaches `patience`.
The weights kept for a depth are those of its last improvement. odn_jax's levers, off in the
paper configs: `abandon_margin` (a growing depth whose curve cannot reach the goal counts as
converged: `Fold._forecast_falls_short`), `final_epochs` (a depth that reached the goal ends
with a fixed cosine decay instead of step 5), `min_delta`, and epoch caps.

A history is a list of epoch records, dicts with at least
  phase ('warmup' | 'grow' | 'finetune'), depth, val_accuracy (percent),
and, from the trainer, val_correct / val_count: the rounding is done on correct / count
exactly as the paper computes it (`round(correct / total * 100, 1)`), which for some counts
differs from rounding the stored percentage.
"""

import dataclasses
import math
import statistics
from typing import Sequence

import ml_collections

from odn_jax.errors import ConfigError
from odn_jax.models import num_blocks

WARMUP, GROW, FINETUNE, DONE = 'warmup', 'grow', 'finetune', 'done'
MODES = ('target', 'saturation', 'budget')
STARTS = ('shallowest', 'profile', 'deepest')
BUDGET_KEYS = ('params', 'bytes', 'flops')


@dataclasses.dataclass(frozen=True)
class Plan:
  """What to do next: train `phase` at `depth` with `learning_rate`, and why."""
  phase: str
  depth: int
  learning_rate: float
  reason: str = ''

  @property
  def done(self) -> bool:
    return self.phase == DONE

  @property
  def heads(self) -> str:
    """The heads that train: every head up to `depth` in the warm-up ('all'), else 'last'."""
    return 'all' if self.phase == WARMUP else 'last'

  @property
  def num_heads(self) -> int:
    return self.depth if self.heads == 'all' else 1


@dataclasses.dataclass(frozen=True)
class Position:
  """Where the search stands after the history it was replayed from."""
  plan: Plan  # the next epoch
  best_val_accuracy: float  # of the current depth, at the controller's rounding
  kept: dict  # depth -> index of the epoch whose weights that depth keeps
  left: dict  # depth -> why the search left it (grew past it, or ended there)


def max_depth(config: ml_collections.ConfigDict) -> int:
  blocks = num_blocks(config.model.arch)
  depth = config.model.max_depth or blocks
  if not 1 <= depth <= blocks:
    raise ConfigError(f'config.model.max_depth must be in 1..{blocks} (0 for all) for '
                      f'{config.model.arch}, got {config.model.max_depth}')
  return depth


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
  for key in ('tolerance', 'min_gain', 'start_margin', 'min_delta', 'max_epochs_per_depth',
              'max_epochs_total'):
    if s[key] < 0:
      raise ConfigError(f'config.search.{key} must be >= 0, got {s[key]}')
  for key in ('patience', 'plateau_patience'):
    if s[key] < 1:
      raise ConfigError(f'config.search.{key} must be >= 1, got {s[key]}')
  if s.learning_rate <= 0 or s.expansion_lr_scale <= 0:
    raise ConfigError('config.search.learning_rate and expansion_lr_scale must be > 0, got '
                      f'{s.learning_rate} and {s.expansion_lr_scale}')
  if s.final_epochs < 0 or s.abandon_min_epochs < 3 or s.abandon_noise < 0:
    raise ConfigError('config.search.final_epochs and abandon_noise must be >= 0 and '
                      f'abandon_min_epochs >= 3, got {s.final_epochs}, {s.abandon_noise} and '
                      f'{s.abandon_min_epochs}')
  if s.mode == 'budget' and not any(s.budget[k] for k in BUDGET_KEYS):
    raise ConfigError("config.search.mode='budget' needs a limit: set config.search.budget"
                      '.params, .bytes or .flops')


def depth_limit(config, sizes: Sequence[dict] | None = None) -> int:
  """The deepest depth the search may train: max_depth, and in budget mode what fits.

  `sizes` are the rows of `odn_jax.models.size.depth_table` (params, bytes, flops per depth).
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


def cosine(peak: float, step: int, total: int) -> float:
  """The rate `step` of `total` of a cosine decay from `peak` to zero."""
  return peak * 0.5 * (1.0 + math.cos(math.pi * step / total))


def warmup_learning_rate(config, epoch: int) -> float:
  """Cosine annealing over the warm-up, stepped once per epoch (3 epochs: 1, 0.75, 0.25 x)."""
  return cosine(config.warmup.learning_rate, epoch, config.warmup.epochs)


def rounded_accuracy(record: dict, decimals: int) -> float:
  """Validation accuracy as the paper compares it: round(correct / total * 100, decimals)."""
  if 'val_correct' in record:
    return round((record['val_correct'] / record['val_count']) * 100, decimals)
  return round(record['val_accuracy'], decimals)


def start_depth(warmup_profile: Sequence[float], config, limit: int) -> tuple[int, str]:
  """Where growth starts after warm-up: depth 1, or where the warm-up profile says."""
  if config.search.start == 'deepest':
    return limit, f'start at the deepest depth, {limit}'
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


def start_plan(config) -> Plan:
  if config.warmup.epochs > 0:
    return Plan(WARMUP, max_depth(config), warmup_learning_rate(config, 0),
                'warm-up of every head')
  depth = max_depth(config) if config.search.start == 'deepest' else 1
  return Plan(GROW, depth, config.search.learning_rate, 'no warm-up configured')


def _final_depth(config, depth: int, best_acc: float, best_by_depth: dict[int, float]
                 ) -> tuple[int, str]:
  """The depth a finished search extracts: the one fine-tuned, except where a mode looks back.

  `best_by_depth` maps every depth trained to its best (rounded) validation accuracy.
  """
  mode, top = config.search.mode, max(best_by_depth.values())
  if mode == 'saturation':
    min_gain = config.search.min_gain
    chosen = min(d for d, acc in best_by_depth.items() if acc >= top - min_gain)
    return chosen, f'depth {chosen} is the shallowest within {min_gain:g} points of the best'
  if mode == 'budget' and best_acc < target_goal(config):
    chosen = min(d for d, acc in best_by_depth.items() if acc == top)
    return chosen, f'depth {chosen} is the best of those that fit the budget'
  return depth, f'best {best_acc:g}%'


def _expands(config, exhausted: bool, depth: int, best_acc: float,
             best_by_depth: dict[int, float], limit: int) -> bool:
  """Step 3: does a converged depth make way for the next one?"""
  if not exhausted or depth >= limit:
    return False
  if config.search.mode == 'saturation':
    gain = best_by_depth[depth] - best_by_depth.get(depth - 1, -math.inf)
    return gain >= config.search.min_gain
  return best_acc <= target_goal(config)


class Fold:
  """The controller's rules applied one epoch record at a time; `replay` folds a history."""

  def __init__(self, config, sizes: Sequence[dict] | None = None):
    self.config, self.limit, self.goal = config, depth_limit(config, sizes), target_goal(config)
    self.plan = start_plan(config)
    self.history: list[dict] = []
    self.best_acc, self.since = 0.0, 0
    self.best_by_depth: dict[int, float] = {}
    self.curve: list[float] = []  # the current depth's rounded accuracy after each epoch
    self.decays = 0  # plateau decays of the rate at the current depth
    self.final_rate, self.final_at = None, 0  # the fixed final schedule (search.final_epochs)
    self.kept: dict[int, int] = {}
    self.left: dict[int, str] = {}

  @property
  def at_depth(self) -> int:
    """Epochs trained at the current depth."""
    return len(self.curve)

  @property
  def position(self) -> Position:
    return Position(self.plan, self.best_acc, dict(self.kept), dict(self.left))

  def push(self, record: dict):
    s, i, plan = self.config.search, len(self.history), self.plan
    if plan.phase == DONE:
      raise ValueError(f'history goes on after the search ended (epoch {i + 1})')
    if (record['phase'], record['depth']) != (plan.phase, plan.depth):
      raise ValueError(f'epoch {i + 1} trained {record["phase"]} at depth {record["depth"]}, '
                       f'but the controller had planned {plan.phase} at depth {plan.depth}')
    self.history.append(record)
    if plan.phase == WARMUP:
      if i + 1 < self.config.warmup.epochs:
        self.plan = Plan(WARMUP, plan.depth, warmup_learning_rate(self.config, i + 1))
      else:
        depth, why = start_depth(warmup_profile(self.history), self.config, self.limit)
        self.plan = Plan(GROW, depth, s.learning_rate, f'warm-up finished; {why}')
    else:
      self.plan = self._after_epoch(record, i)
    if s.max_epochs_total and i + 1 >= s.max_epochs_total and self.plan.phase != DONE:
      self.plan = Plan(DONE, record['depth'], 0.0,
                       f'epoch cap reached ({s.max_epochs_total} in total)')

  def _compare(self, record: dict, i: int) -> bool:
    """Steps 1-2 without the rate: rounds the accuracy, updates the best; True if improved."""
    s, plan = self.config.search, self.plan
    decimals = s.finetune_decimals if plan.phase == FINETUNE else s.grow_decimals
    accuracy = rounded_accuracy(record, decimals)
    self.best_by_depth[plan.depth] = max(self.best_by_depth.get(plan.depth, -math.inf),
                                         accuracy)
    self.curve.append(accuracy)
    improved = accuracy > self.best_acc + s.min_delta
    if improved:
      self.best_acc, self.since = accuracy, 0
      self.kept[plan.depth] = i
    else:
      self.since += 1
    self.kept.setdefault(plan.depth, i)  # no improvement at all (best kept across an expansion)
    return improved

  def _forecast_falls_short(self) -> bool:
    """`search.abandon_margin`: can the depth being grown still reach the goal?

    A saturating curve gains less from here on than it gained over the second half of its
    epochs so far (true of a + b exp(-ct) once ct > 2 ln 2); so a depth whose best, plus
    that recent gain, plus a margin for what decaying the rate adds, stays below the goal
    is abandoned. The margin grows with the curve's epoch-to-epoch noise over that half
    (`abandon_noise` standard deviations): at a rate high enough to make the curve swing,
    the best says little about the level the depth settles at once the rate decays.
    Checked on the notebooks' logs and recorded runs (tests/test_forecast.py).
    """
    s, k = self.config.search, self.at_depth
    if (s.abandon_margin is None or k < s.abandon_min_epochs or s.mode == 'saturation'
        or self.decays < s.abandon_min_decays):
      return False
    plateau, margin = self.forecast()
    return plateau + margin < self.goal

  def forecast(self) -> tuple[float, float]:
    """(the predicted plateau: best + the gain over the second half of the depth's epochs,
    the margin: abandon_margin + abandon_noise x the sd of one epoch's noise over that half)."""
    s, k = self.config.search, self.at_depth
    best, half = max(self.curve), max(self.curve[:k // 2])
    recent = self.curve[k // 2 - 1:]
    # A difference of two epochs carries the noise of both: sd(step) / sqrt(2).
    noise = statistics.pstdev(b - a for a, b in zip(recent, recent[1:])) / math.sqrt(2)
    return 2 * best - half, s.abandon_margin + s.abandon_noise * noise

  def _after_final_epoch(self, record: dict, i: int) -> Plan:
    """`search.final_epochs`: the chosen depth trains a fixed cosine decay to zero."""
    s, plan = self.config.search, self.plan
    self._compare(record, i)
    self.final_at += 1
    if self.final_at >= s.final_epochs:
      chosen, choice = _final_depth(self.config, plan.depth, self.best_acc, self.best_by_depth)
      self.left[plan.depth] = f'final schedule of {s.final_epochs} epochs done; {choice}'
      return Plan(DONE, chosen, 0.0, self.left[plan.depth])
    return Plan(FINETUNE, plan.depth, cosine(self.final_rate, self.final_at, s.final_epochs))

  def _after_epoch(self, record: dict, i: int) -> Plan:
    s, plan = self.config.search, self.plan
    if plan.phase == FINETUNE and self.final_rate is not None:
      return self._after_final_epoch(record, i)
    phase, depth, learning_rate, reason = plan.phase, plan.depth, plan.learning_rate, ''
    # 1-2. Round; compare with the best; decay the rate every plateau_patience-th flat epoch.
    if not self._compare(record, i) and self.since % s.plateau_patience == 0:
      learning_rate *= s.plateau_factor
      self.decays += 1
    capped = bool(s.max_epochs_per_depth) and self.at_depth >= s.max_epochs_per_depth
    forecast = phase == GROW and self._forecast_falls_short()
    exhausted = self.since >= s.patience or capped or forecast
    if forecast and not capped and self.since < s.patience:
      plateau, margin = self.forecast()
      why = (f'forecast: plateau {plateau:.1f}% (best {max(self.curve):g}% + its gain '
             f'over the last {self.at_depth - self.at_depth // 2} epochs) + margin {margin:.1f} '
             f'< {self.goal:g}%')
    else:
      why = (f'cap of {s.max_epochs_per_depth} epochs' if capped
             else f'no improvement for {s.patience} epochs')
    # 3. Expansion.
    if phase == GROW and _expands(self.config, exhausted, depth, self.best_acc,
                                  self.best_by_depth, self.limit):
      reason = f'depth {depth} converged at {self.best_acc:g}% ({why}); grow'
      depth += 1
      if s.reset_best_on_expansion:
        self.best_acc = 0.0
      self.left[depth - 1] = reason
      self.since, self.curve, self.decays, exhausted = 0, [], 0, False
      learning_rate = s.learning_rate * s.expansion_lr_scale
    # 4. The fine-tune flag: changes the rounding and nothing else.
    if phase == GROW:
      reached = s.mode != 'saturation' and self.best_acc >= self.goal
      if exhausted or reached or depth == self.limit:
        phase = FINETUNE
        cause = (f'reached target - tolerance {self.goal:g}%' if reached
                 else f'maximum depth {self.limit}' if depth == self.limit else why)
        reason = (f'{reason}; ' if reason else '') + f'fine-tune depth {depth}: {cause}'
        if s.finetune_learning_rate is not None:
          learning_rate = s.finetune_learning_rate
        if s.final_epochs and reached:  # a fixed schedule instead of waiting for the counter
          self.final_rate, self.final_at, exhausted = learning_rate, 0, False
    # 5. Stop.
    if phase == FINETUNE and exhausted:
      chosen, choice = _final_depth(self.config, depth, self.best_acc, self.best_by_depth)
      self.left[depth] = f'fine-tuned: {why}; {choice}'
      return Plan(DONE, chosen, 0.0, self.left[depth])
    return Plan(phase, depth, learning_rate, reason)



def fold_history(history: Sequence[dict], config, sizes: Sequence[dict] | None = None) -> Fold:
  """A Fold that has taken every record of `history` (a resumed run goes on pushing to it)."""
  fold = Fold(config, sizes)
  for record in history:
    fold.push(record)
  return fold


def replay(history: Sequence[dict], config, sizes: Sequence[dict] | None = None) -> Position:
  """Folds `history` through the controller's rules: where the search stands after it."""
  return fold_history(history, config, sizes).position


def next_plan(history: Sequence[dict], config, sizes: Sequence[dict] | None = None) -> Plan:
  """The controller: where the search goes after the last epoch of `history`."""
  return replay(history, config, sizes).plan


def per_depth(history: Sequence[dict], config, sizes: Sequence[dict] | None = None
              ) -> dict[int, dict]:
  """Epochs of every depth trained after warm-up, and the validation accuracy of the weights
  it keeps (the epoch of its last improvement: one definition of "best" everywhere)."""
  position = replay(history, config, sizes)
  kept = position.kept
  rows = {}
  for record in history:
    if record['phase'] in (GROW, FINETUNE):
      row = rows.setdefault(record['depth'], {'depth': record['depth'], 'epochs': 0})
      row['epochs'] += 1
  for depth, row in rows.items():
    row['best_epoch'] = kept[depth] + 1  # 1-based, as the history's 'epoch'
    row['best_val_accuracy'] = history[kept[depth]]['val_accuracy']
    row['left_because'] = position.left.get(depth, '')
  return dict(sorted(rows.items()))
