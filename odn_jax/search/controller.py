"""The expansion controller: warmup -> grow(d) -> finetune(d) -> done.

Every decision is a pure function of the per-epoch history and the config: `replay` folds
the history, epoch by epoch, through the rules of the paper's `train_till_convergence`, so
the whole policy is tested on scripted histories without training anything, and a resumed
run re-derives exactly the position of an uninterrupted one.

Where each piece lives:
  start.py    the warm-up's rates and where growth starts after it;
  rules.py    the paper's five rules, in the notebooks' order (`rules.after_epoch`);
  modes.py    target, saturation, budget: the questions the rules ask a mode;
  forecast.py, options.py   odn_jax's options, off in the paper configs: the fast forecast,
              epoch caps, the final schedule;
  checks.py   the settings refused up front.
This module holds the fold itself: `Fold` takes one epoch record at a time.

A history is a list of epoch records, dicts with at least
  phase ('warmup' | 'grow' | 'finetune'), depth, val_accuracy (percent),
and, from the trainer, val_correct / val_count: the rounding is done on correct / count
exactly as the paper computes it (`round(correct / total * 100, 1)`), which for some counts
differs from rounding the stored percentage.

With the paper's `grow.init='warmup'` and `reset_best_on_expansion=True`, every depth
trains from the warm-up weights, with a new optimizer, its best and counter at zero
(`rules.Counters`): what happens at a depth is a function of (config, depth) alone, which is
what racing the depths relies on (`odn_jax.search.race.depth_fold`, a depth's own fold).
"""

from typing import Sequence

from odn_jax.search import modes, rules, start
from odn_jax.search.modes import target_goal
from odn_jax.search.options import total_cap
from odn_jax.search.plan import DONE, FINETUNE, GROW, WARMUP, Plan, Position


class Fold:
  """The controller's rules applied one epoch record at a time; `replay` folds a history."""

  def __init__(self, config, sizes: Sequence[dict] | None = None):
    """`sizes`: the rows of `odn_jax.models.size.depth_table` (needed in budget mode)."""
    self.config, self.mode = config, modes.of(config)
    self.limit, self.goal = self.mode.limit(config, sizes), target_goal(config)
    self.plan = start.start_plan(config)
    self.history: list[dict] = []
    self.counters = rules.Counters()  # of the depth being trained
    self.final = None  # the final schedule, once a depth has started it (search.final_epochs)
    self.best_by_depth: dict[int, float] = {}  # every depth trained -> its best (rounded)
    self.kept: dict[int, int] = {}  # depth -> the epoch whose weights it keeps
    self.left: dict[int, str] = {}  # depth -> why the search left it

  @property
  def position(self) -> Position:
    return Position(self.plan, self.counters.best, dict(self.kept), dict(self.left))

  def push(self, record: dict):
    """Takes the record of the epoch that trained `self.plan`; `self.plan` is then the next."""
    i, plan = len(self.history), self.plan
    if plan.done:
      raise ValueError(f'history goes on after the search ended (epoch {i + 1})')
    if (record['phase'], record['depth']) != (plan.phase, plan.depth):
      raise ValueError(f'epoch {i + 1} trained {record["phase"]} at depth {record["depth"]}, '
                       f'but the controller had planned {plan.phase} at depth {plan.depth}')
    self.history.append(record)
    if plan.phase == WARMUP:
      self.plan = start.after_warmup(self.config, self.history, plan, self.limit)
    else:
      self.plan = rules.after_epoch(self, record, i)
    cap = total_cap(self.config.search, i + 1)
    if cap and not self.plan.done:
      self.plan = Plan(DONE, record['depth'], 0.0, cap)


def fold_history(history: Sequence[dict], config, sizes: Sequence[dict] | None = None) -> Fold:
  """A Fold that has taken every record of `history` (a resumed run goes on pushing to it)."""
  fold = Fold(config, sizes)
  for record in history:
    fold.push(record)
  return fold


def replay(history: Sequence[dict], config, sizes: Sequence[dict] | None = None) -> Position:
  """Folds `history` through the controller's rules: where the search stands after it."""
  return fold_history(history, config, sizes).position


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
