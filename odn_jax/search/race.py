"""Racing the depths: which depth a free slot trains, when the answer is known, what to cancel.

Under the paper's rules (`grow.init='warmup'`, `search.reset_best_on_expansion=True`, target
mode) every depth starts from the warm-up weights with a new optimizer, its own best and
counter, on batches keyed by (seed, depth, epochs at the depth): a depth's run is a function
of the depth alone, and the sequential search's answer is the shallowest depth whose run
reaches the goal. `search.parallel_depths=K` trains up to K depths at once, one per slot:

  - a free slot takes the next untried depth, at most `search.race_lookahead` depths deeper
    than the shallowest depth that has not ended (None: no bound), and never one deeper than
    a depth that already reached the goal;
  - a depth *commits* when its fold sets the fine-tune flag (it reached the goal, or it is
    the deepest allowed): in target mode it then ends at that depth, so every deeper depth
    is cancelled at once;
  - the answer is the shallowest committed depth once every shallower depth fell short; the
    search ends when that depth has finished (fine-tune or the final schedule).

Everything here is pure Python: `Race` is the schedule, `depth_fold` the controller's fold
standing at the start of one depth, so both are tested on scripted outcomes in microseconds
(tests/test_race.py). The training loop is `odn_jax.train.race`.
"""

import dataclasses
from typing import Sequence

from odn_jax.errors import ConfigError
from odn_jax.search import controller

TRAINING, COMMITTED, SHORT, DONE, CANCELLED = 'training', 'committed', 'short', 'done', 'cancelled'
ACTIVE = (TRAINING, COMMITTED)


def check_config(config):
  """Refuses, in one line naming the key, a race that could not give the sequential answer."""
  s = config.search
  k, lookahead = s.get('parallel_depths', 1), s.get('race_lookahead', None)
  if k < 1:
    raise ConfigError(f'config.search.parallel_depths must be >= 1, got {k}')
  if lookahead is not None and lookahead < 1:
    raise ConfigError(f'config.search.race_lookahead must be >= 1 (None: no bound), got '
                      f'{lookahead}')
  if k == 1:
    return
  why = 'parallel_depths > 1 races independent depths: '
  if s.mode != 'target':
    raise ConfigError(f"{why}config.search.mode={s.mode!r} looks across depths; use 'target' "
                      'or parallel_depths=1')
  if not s.reset_best_on_expansion:
    raise ConfigError(f'{why}config.search.reset_best_on_expansion=False carries the best '
                      'across depths; set it True or parallel_depths=1')
  if config.grow.init != 'warmup' or config.grow.carry != 1.0:
    raise ConfigError(f"{why}config.grow.init={config.grow.init!r} (carry {config.grow.carry:g})"
                      " starts a depth from the one before; use grow.init='warmup', "
                      'grow.carry=1 or parallel_depths=1')
  if s.max_epochs_total:
    raise ConfigError(f'{why}config.search.max_epochs_total={s.max_epochs_total} caps epochs '
                      'across depths; set it 0 or parallel_depths=1')
  if controller.target_goal(config) <= 0:
    raise ConfigError(f'{why}config.search.target - tolerance <= 0: the first depth always '
                      'reaches it; use parallel_depths=1')


def check_devices(config, device_count: int, process_count: int):
  """The device-dependent half of the check: K slots of device_count / K devices each."""
  k = config.search.get('parallel_depths', 1)
  if k == 1:
    return
  if process_count > 1:
    raise ConfigError(f'config.search.parallel_depths={k} races depths on one host only; this '
                      f'job has {process_count} processes: use parallel_depths=1')
  if device_count % k:
    raise ConfigError(f'config.search.parallel_depths={k} does not divide the {device_count} '
                      'devices into equal slots; use a divisor of the device count')


@dataclasses.dataclass
class DepthRun:
  """One depth's run in the race: where and when it trained, and how it ended."""
  depth: int
  slot: int
  start_round: int  # the first round it trained in (rounds count from 1 after warm-up)
  epochs: int = 0
  state: str = TRAINING  # TRAINING, COMMITTED (finishing at its depth), SHORT, DONE, CANCELLED
  end_round: int | None = None  # the last round it trained in, once it has ended


class Race:
  """The schedule of a race of depths `first..limit` on `slots` slots (pure, JSON-able)."""

  def __init__(self, first: int, limit: int, slots: int, lookahead: int | None = None):
    self.first, self.limit, self.lookahead = first, limit, lookahead
    # More slots than depths left: the extra slots stay idle (the stated rule).
    self.slots = max(1, min(slots, limit - first + 1))
    self.rounds = 0  # rounds completed
    self.runs: dict[int, DepthRun] = {}

  def to_json(self) -> dict:
    return {'first': self.first, 'limit': self.limit, 'slots': self.slots,
            'lookahead': self.lookahead, 'rounds': self.rounds,
            'runs': [dataclasses.asdict(r) for r in self.runs.values()]}

  @classmethod
  def from_json(cls, d: dict) -> 'Race':
    race = cls(d['first'], d['limit'], d['slots'], d['lookahead'])
    race.rounds = d['rounds']
    race.runs = {r['depth']: DepthRun(**r) for r in d['runs']}
    return race

  def running(self) -> dict[int, int]:
    """slot -> the depth it trains now."""
    return {r.slot: r.depth for r in self.runs.values() if r.state in ACTIVE}

  @property
  def candidate(self) -> int | None:
    """The shallowest depth known to end at its own depth (committed or done)."""
    return min((r.depth for r in self.runs.values() if r.state in (COMMITTED, DONE)),
               default=None)

  @property
  def shallowest_open(self) -> int:
    """The shallowest depth that has not fallen short (trained or not)."""
    depth = self.first
    while depth in self.runs and self.runs[depth].state == SHORT:
      depth += 1
    return depth

  @property
  def answer(self) -> int | None:
    """The sequential search's answer, once known: the shallowest committed depth with every
    shallower depth short."""
    depth = self.shallowest_open
    run = self.runs.get(depth)
    return depth if run is not None and run.state in (COMMITTED, DONE) else None

  @property
  def done(self) -> bool:
    """The answer has finished training: the search is over."""
    answer = self.answer
    return answer is not None and self.runs[answer].state == DONE

  def next_depth(self) -> int | None:
    """The depth a free slot would start now, or None."""
    depth = self.first + len(self.runs)  # depths start in order
    if depth > self.limit:
      return None
    if self.candidate is not None and depth > self.candidate:
      return None
    if self.lookahead is not None and depth > self.shallowest_open + self.lookahead:
      return None
    return depth

  def assign(self) -> list[tuple[int, int]]:
    """Starts depths on the free slots (lowest slot first); returns the (slot, depth) started."""
    started = []
    for slot in range(self.slots):
      if slot in self.running():
        continue
      depth = self.next_depth()
      if depth is None:
        break
      self.runs[depth] = DepthRun(depth, slot, self.rounds + 1)
      started.append((slot, depth))
    return started

  def end_round(self, states: dict[int, str]) -> list[int]:
    """Records one round: `states` maps every depth that trained in it to its state after the
    epoch (TRAINING, COMMITTED, SHORT or DONE). Returns the depths cancelled by it."""
    self.rounds += 1
    if set(states) != set(self.running().values()):
      raise ValueError(f'round {self.rounds}: states for depths {sorted(states)}, but depths '
                       f'{sorted(self.running().values())} were training')
    for depth, state in states.items():
      if state not in (TRAINING, COMMITTED, SHORT, DONE):
        raise ValueError(f'depth {depth}: unknown state {state!r}')
      run = self.runs[depth]
      run.epochs += 1
      run.state = state
      if state in (SHORT, DONE):
        run.end_round = self.rounds
    cancelled = []
    if self.candidate is not None:
      for run in self.runs.values():
        if run.depth > self.candidate and run.state in ACTIVE:
          run.state, run.end_round = CANCELLED, self.rounds
          cancelled.append(run.depth)
    return cancelled

  def speculative(self) -> list[int]:
    """Depths trained that the sequential search would not have trained (deeper than the
    answer), once the answer is known."""
    answer = self.answer
    return [] if answer is None else sorted(d for d in self.runs if d > answer)

  def summary(self) -> dict:
    """The race's figures for summary.json."""
    return {'slots': self.slots, 'lookahead': self.lookahead, 'rounds': self.rounds,
            'answer': self.answer,
            'runs': [dataclasses.asdict(r) for r in sorted(self.runs.values(),
                                                           key=lambda r: r.depth)]}


def state_of(fold: controller.Fold, depth: int) -> str:
  """A depth's state after its fold took an epoch: where its plan goes next."""
  plan = fold.plan
  if plan.done:
    return DONE
  if plan.depth != depth:
    return SHORT
  return COMMITTED if plan.phase == controller.FINETUNE else TRAINING


def depth_fold(config, warmup_history: Sequence[dict], depth: int,
               sizes: Sequence[dict] | None = None) -> controller.Fold:
  """The controller's fold standing at the first epoch of `depth`, as the sequential search
  enters it: the warm-up's records, then every shallower depth falling short.

  The shallower depths are stood in for by flat records at 0 %: under the rules `check_config`
  admits, what the fold holds on entering a depth (a reset best and counter, a new curve, the
  expansion rate, the fine-tune flag at the deepest depth) does not depend on how the depths
  before it ran, so the fold then decides exactly as the sequential one. The records it takes
  from here are the depth's own; `fold.entered` is where they start in `fold.history`.
  """
  fold = controller.Fold(config, sizes)
  for record in warmup_history:
    fold.push(record)
  for _ in range(100_000):
    if fold.plan.depth >= depth or fold.plan.done:
      break
    fold.push({'phase': fold.plan.phase, 'depth': fold.plan.depth, 'val_accuracy': 0.0,
               'val_correct': 0, 'val_count': 1})
  if fold.plan.depth != depth or fold.plan.done:
    raise ValueError(f'the search cannot enter depth {depth} (it stands at {fold.plan})')
  fold.entered = len(fold.history)
  return fold


def first_depth(config, warmup_history: Sequence[dict], sizes=None) -> tuple[int, int]:
  """(the first depth the search trains after the warm-up, the deepest it may train)."""
  fold = controller.Fold(config, sizes)
  for record in warmup_history:
    fold.push(record)
  return fold.plan.depth, fold.limit


def sequential_history(warmup_history: Sequence[dict], records: dict[int, list[dict]],
                       race: Race) -> list[dict]:
  """Every record in the order a history file lists them: the warm-up's, then each depth's
  in depth order. `epoch` is the sequential search's epoch number where that is known (every
  shallower depth fell short), else None; depths deeper than a known answer are marked
  `speculative`: trained by the race, not by the sequential search."""
  out = [dict(r) for r in warmup_history]
  epoch, settled, answer = len(out), True, race.answer
  for depth in sorted(records):
    for record in records[depth]:
      extra = {}
      if settled:
        epoch += 1
      if answer is not None and depth > answer:
        extra['speculative'] = True
      out.append({**record, 'epoch': epoch if settled else None, **extra})
    run = race.runs.get(depth)
    settled = settled and run is not None and run.state == SHORT
  return out


def in_search(history: Sequence[dict]) -> list[dict]:
  """The records the sequential search has: a raced history less its speculative depths."""
  return [r for r in history if not r.get('speculative')]


def scripts_from_history(history: Sequence[dict], config, sizes=None) -> dict[int, list[str]]:
  """Each depth's state after each of its epochs in a sequential search's history: what
  `simulate` replays (the depths' runs are the same raced or not)."""
  fold, scripts = controller.Fold(config, sizes), {}
  for record in history:
    fold.push(record)
    if record['phase'] != controller.WARMUP:
      scripts.setdefault(record['depth'], []).append(state_of(fold, record['depth']))
  return scripts


def simulate(scripts: dict[int, Sequence[str]], first: int, limit: int, slots: int,
             lookahead: int | None = None, max_rounds: int = 1_000_000) -> Race:
  """The race of depths whose runs follow `scripts` (depth -> its state after each epoch; a
  depth without a script, or past its end, trains on until cancelled): the list schedule
  of the raced search. Returns the finished `Race` (rounds: the critical path)."""
  race = Race(first, limit, slots, lookahead)
  while not race.done:
    if race.rounds >= max_rounds:
      raise ValueError(f'the race did not end within {max_rounds} rounds')
    race.assign()
    states = {}
    for depth in race.running().values():
      script, at = scripts.get(depth, ()), race.runs[depth].epochs
      states[depth] = script[at] if at < len(script) else TRAINING
    race.end_round(states)
  return race
