"""The paper's rules: what `train_till_convergence` decides after every epoch past warm-up.

In the notebooks' order (the paper's defaults in brackets; /work/shared/DESIGN.md section 1):
  1. round the validation accuracy (1 decimal while growing, 2 once fine-tuning);
  2. it improves if it beats the depth's best (by more than `min_delta` [0]): best = it,
     counter 0; else counter + 1, and every `plateau_patience` [5]th flat epoch the rate is
     multiplied by `plateau_factor` [0.6];
  3. expansion: counter >= `patience` [23], not fine-tuning, below the depth limit, and the
     mode says so (target: best <= target - tolerance): depth + 1, best 0
     (`reset_best_on_expansion`), counter 0, rate = `learning_rate` x `expansion_lr_scale`
     [0.5];
  4. the fine-tune flag is set once the counter reaches `patience`, or the mode's goal is
     reached (best >= target - tolerance), or the depth is the deepest allowed; it changes
     nothing else;
  5. stop when fine-tuning and the counter reaches `patience`.
The weights kept for a depth are those of its last improvement.

The mode (`odn_jax.search.modes`) answers the questions of steps 3-5; odn_jax's options, off
in the paper configs, come in at named places: an epoch cap (`options.depth_cap`) or the fast
forecast (`forecast.falls_short`) counts a depth as converged before the counter does, and
the final schedule (`options.FinalSchedule`) replaces steps 2-5 once a depth reached the goal.
"""

import dataclasses

from odn_jax.search import forecast, options
from odn_jax.search.plan import DONE, FINETUNE, GROW, Plan


@dataclasses.dataclass
class Counters:
  """The rules' state at the depth being trained: the notebook's best and counter, and more."""
  best: float = 0.0  # the best rounded validation accuracy (kept across an expansion if
  #                    reset_best_on_expansion is off)
  since: int = 0  # epochs since the last improvement (the notebook's no_improvement)
  curve: list = dataclasses.field(default_factory=list)  # rounded accuracy of every epoch
  decays: int = 0  # plateau decays of the rate
  kept: int | None = None  # the epoch (history index) whose weights the depth keeps

  def compare(self, accuracy: float, i: int, min_delta: float) -> bool:
    """Step 2 without the rate: epoch `i` scored `accuracy`; True if it improved."""
    self.curve.append(accuracy)
    improved = accuracy > self.best + min_delta
    if improved:
      self.best, self.since, self.kept = accuracy, 0, i
    else:
      self.since += 1
    if self.kept is None:  # no improvement at all (a best kept across an expansion)
      self.kept = i
    return improved


def rounded_accuracy(record: dict, decimals: int) -> float:
  """Validation accuracy as the paper compares it: round(correct / total * 100, decimals)."""
  if 'val_correct' in record:
    return round((record['val_correct'] / record['val_count']) * 100, decimals)
  return round(record['val_accuracy'], decimals)


def after_epoch(fold, record: dict, i: int) -> Plan:
  """The plan after epoch `i` (`record`) trained `fold.plan`; updates `fold`'s counters.

  `fold` is an `odn_jax.search.Fold`: config, mode, limit, goal, plan, counters, final,
  and what it records of every depth (best_by_depth, kept, left).
  """
  s, mode, counters = fold.config.search, fold.mode, fold.counters
  phase, depth, rate, reason = fold.plan.phase, fold.plan.depth, fold.plan.learning_rate, ''
  # 1. Round the validation accuracy.
  accuracy = rounded_accuracy(record,
                              s.finetune_decimals if phase == FINETUNE else s.grow_decimals)
  # 2. Compare with the depth's best...
  improved = counters.compare(accuracy, i, s.min_delta)
  fold.best_by_depth[depth], fold.kept[depth] = max(counters.curve), counters.kept
  if fold.final is not None:  # (option: the final schedule, once started, replaces 2-5)
    rate = fold.final.step()
    return end(fold, depth, fold.final.reason) if rate is None else Plan(FINETUNE, depth, rate)
  # ... and decay the rate every plateau_patience-th flat epoch.
  if not improved and counters.since % s.plateau_patience == 0:
    rate *= s.plateau_factor
    counters.decays += 1
  # Converged: the counter reached patience; or sooner, by an option: an epoch cap, or while
  # growing, the fast forecast.
  converged = options.depth_cap(s, len(counters.curve))
  if not converged and counters.since >= s.patience:
    converged = f'no improvement for {s.patience} epochs'
  if not converged and phase == GROW and mode.forecasts:
    converged = forecast.falls_short(s, counters.curve, counters.decays, fold.goal)
  # 3. Expansion.
  if (phase == GROW and converged and depth < fold.limit
      and mode.expands(fold.config, depth, counters.best, fold.best_by_depth)):
    reason = f'depth {depth} converged at {counters.best:g}% ({converged}); grow'
    fold.left[depth] = reason
    depth, converged = depth + 1, None
    fold.counters = counters = Counters(0.0 if s.reset_best_on_expansion else counters.best)
    rate = s.learning_rate * s.expansion_lr_scale
  # 4. The fine-tune flag: changes the rounding and nothing else (unless an option says so).
  if phase == GROW:
    reached = mode.reached(fold.config, counters.best)
    cause = (f'reached target - tolerance {fold.goal:g}%' if reached
             else f'maximum depth {fold.limit}' if depth == fold.limit else converged)
    if cause:
      phase = FINETUNE
      reason = (f'{reason}; ' if reason else '') + f'fine-tune depth {depth}: {cause}'
      if s.finetune_learning_rate is not None:
        rate = s.finetune_learning_rate
      fold.final = options.FinalSchedule.start(s, reached, rate)
      if fold.final is not None:  # a fixed schedule instead of waiting for the counter
        converged = None
  # 5. Stop.
  if phase == FINETUNE and converged:
    return end(fold, depth, f'fine-tuned: {converged}')
  return Plan(phase, depth, rate, reason)


def end(fold, depth: int, why: str) -> Plan:
  """The search ends at `depth`, for `why`: the plan names the depth the mode extracts."""
  chosen, choice = fold.mode.final_depth(fold.config, depth, fold.counters.best,
                                         fold.best_by_depth)
  fold.left[depth] = f'{why}; {choice}'
  return Plan(DONE, chosen, 0.0, fold.left[depth])

