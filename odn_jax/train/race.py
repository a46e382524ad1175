"""The raced search (`search.parallel_depths=K`): after one warm-up, K slots train K depths.

Each slot is a data-parallel sub-mesh of device_count / K devices; its depth's arrays are
committed there, so a jitted step runs where its inputs live and JAX's asynchronous dispatch
keeps every slot busy from one Python loop: one step of each slot in turn, metrics read back
once per epoch. A round is one epoch of every slot that trains. Which depth a slot takes,
when the answer is known and what to cancel is `odn_jax.search.race`; each depth's decisions
are folded by its own `search.race.depth_fold`, so a depth trains exactly the epochs, batches
and rates the sequential search gives it (tests/test_race_loop.py).

Every round is saved as one Orbax checkpoint of every slot's state; a resumed race goes on
as an uninterrupted one would.
"""

import copy
import dataclasses
import time

import jax
import jax.numpy as jnp
from tqdm import auto as tqdm

from odn_jax import search
from odn_jax.models import partition
from odn_jax.run import checkpoint, compilation, parallel, record_files, workdir as workdir_lib
from odn_jax.search import race as race_lib
from odn_jax.train import loop as loop_lib
from odn_jax.train.preemption import Preempted
from odn_jax.train.state import RunState

SLOT_KEYS = ('ts', 'best', 'metrics')  # what a slot's checkpoint holds


def slot_mesh(config, slot: int) -> jax.sharding.Mesh:
  """Slot `slot`'s devices: the slot-th of K equal runs of jax.devices()."""
  devices = jax.devices()
  n = len(devices) // config.search.parallel_depths
  return jax.make_mesh((n,), ('data',), axis_types=(jax.sharding.AxisType.Auto,),
                       devices=devices[slot * n:(slot + 1) * n])


@dataclasses.dataclass
class Slot:
  """One slot: its devices, and the depth it trains (its RunState and its own fold)."""
  index: int
  setup: object  # the run's Setup, on this slot's mesh
  run: RunState | None = None
  fold: search.Fold | None = None

  @property
  def depth(self) -> int:
    return self.run.plan.depth


class Racer:
  """A race under way: the schedule, every slot, every record so far."""

  def __init__(self, run: RunState, setup, workdir: str, race: race_lib.Race,
               records: dict[int, list[dict]]):
    self.main, self.setup, self.workdir, self.race = run, setup, workdir, race
    self.config = setup.config
    self.warmup_history = [r for r in run.history if r['phase'] == search.WARMUP]
    self.records = records  # depth -> its records, in order
    self.slots = []
    for i in range(race.slots):
      view = copy.copy(setup)
      view.mesh = slot_mesh(self.config, i)
      self.slots.append(Slot(i, view))
    self.warmup = [parallel.replicate(run.warmup, s.setup.mesh) for s in self.slots]

  @classmethod
  def start(cls, run: RunState, setup, workdir: str) -> 'Racer':
    """The race after `run`'s warm-up."""
    config = setup.config
    warmup = [r for r in run.history if r['phase'] == search.WARMUP]
    first, limit = race_lib.first_depth(config, warmup, setup.sizes)
    race = race_lib.Race(first, limit, config.search.parallel_depths,
                         config.search.race_lookahead)
    if race.slots < config.search.parallel_depths:
      setup.say(f'race: {race.slots} of {config.search.parallel_depths} slots, one per depth '
                f'left ({first}..{limit}); the others stay idle')
    return cls(run, setup, workdir, race, {})

  @classmethod
  def restore(cls, run: RunState, setup, workdir: str, mngr, step: int, meta: dict) -> 'Racer':
    """The race saved at `step` (meta from `checkpoint.restore_meta`)."""
    history = meta['history']
    run.history = [r for r in history if r['phase'] == search.WARMUP]
    run.plan = search.Plan(**meta['plan'])
    run.elapsed_s = meta['elapsed_s']
    records = {}
    for r in history:
      if r['phase'] != search.WARMUP:
        records.setdefault(r['depth'], []).append(r)
    schedule = race_lib.Race.from_json(meta['race']['schedule'])
    running = schedule.running()
    shapes = jax.eval_shape(lambda v: v, run.variables)
    slot_shapes = {str(i): parallel.replicated_like(jax.eval_shape(
        lambda v, d=d: dict(zip(SLOT_KEYS, run.fresh(search.Plan(search.GROW, d, 0.0), v))),
        run.variables), slot_mesh(setup.config, i)) for i, d in running.items()}
    template = {'warmup': parallel.replicated_like(shapes, setup.mesh)}
    if slot_shapes:  # none once the race has ended
      template['slots'] = slot_shapes
    tree = checkpoint.restore_tree(mngr, step, template)
    run.warmup = tree['warmup']
    racer = cls(run, setup, workdir, schedule, records)
    for slot_index, depth in running.items():
      slot = racer.slots[slot_index]
      racer._enter(slot, depth)
      saved = tree['slots'][str(slot_index)]
      slot.run.ts, slot.run.best, slot.run.metrics = (saved[k] for k in SLOT_KEYS)
      slot.run.epoch_step = meta['race']['epoch_steps'][str(slot_index)]
    setup.say(f'resumed the race after round {racer.race.rounds}: depths '
              + ', '.join(f'{d} on slot {s}' for s, d in sorted(running.items())))
    return racer

  def _enter(self, slot: Slot, depth: int):
    """Slot `slot` stands at `depth` after the records it has of it (a new depth: none)."""
    fold = race_lib.depth_fold(self.config, self.warmup_history, depth, self.setup.sizes)
    own = self.records.get(depth, [])
    for record in own:
      fold.push(record)
    run = RunState(self.config, self.main.model, self.main.tx, self.warmup[slot.index],
                   self.setup.ds.steps_per_epoch)
    run.history, run.plan = list(self.warmup_history) + [dict(r) for r in own], fold.plan
    run.ts, run.best, run.metrics = run.fresh(run.plan)  # from the warm-up weights
    slot.run, slot.fold = run, fold

  @property
  def active(self) -> list[Slot]:
    return [s for s in self.slots if s.run is not None]

  def global_step(self) -> int:
    """Monotonic across saves: the warm-up's steps, then K x steps per round."""
    spe = self.setup.ds.steps_per_epoch
    return (len(self.warmup_history) * spe + self.race.rounds * spe * len(self.slots)
            + sum(s.run.epoch_step for s in self.active))

  def save(self, mngr, elapsed_s: float):
    step = self.global_step()
    if mngr.latest_step() == step:  # preempted right after a save: nothing new
      return
    tree = {'warmup': self.warmup[0]}
    if self.active:
      tree['slots'] = {str(s.index): dict(zip(SLOT_KEYS, (s.run.ts, s.run.best, s.run.metrics)))
                       for s in self.active}
    meta = {'history': self.history(), 'plan': dataclasses.asdict(self.main.plan),
            'epoch_step': 0, 'elapsed_s': elapsed_s,
            'race': {'schedule': self.race.to_json(),
                     'epoch_steps': {str(s.index): s.run.epoch_step for s in self.active}}}
    checkpoint.save_epoch(mngr, step, tree, meta)

  def history(self) -> list[dict]:
    return race_lib.sequential_history(self.warmup_history, self.records, self.race)

  def train_round(self, stop) -> bool:
    """One epoch of every active slot, a step of each in turn; False if `stop()` cut it."""
    started, compile_started = time.time(), compilation.seconds()
    todo, batches, rates, orders = {}, {}, {}, {}
    for s in self.active:
      orders[s.index], todo[s.index], rates[s.index] = loop_lib.start_epoch(s.run, s.setup)
      batches[s.index] = s.setup.batches('train', orders[s.index], s.run.epoch_step)
    step_fns = {s.index: s.setup.step(s.run.plan) for s in self.active}
    bar = tqdm.tqdm(total=sum(todo.values()), leave=False, dynamic_ncols=True,
                    desc=f'round {self.race.rounds + 1}',
                    disable=True if self.setup.quiet else None)
    done = dict.fromkeys(todo, 0)
    while any(done[i] < todo[i] for i in todo):
      for s in self.active:
        i = s.index
        if done[i] >= todo[i]:
          continue
        if stop():
          bar.close()
          return False
        s.run.ts, s.run.metrics = step_fns[i](s.run.ts, s.run.metrics, next(batches[i]),
                                              rates[i])
        s.run.epoch_step += 1
        done[i] += 1
        bar.update()
    bar.close()
    states = {}
    for s in self.active:
      record = loop_lib.end_epoch(s.run, s.setup, orders[s.index], done[s.index], started,
                                  compile_started)
      record.update(slot=s.index, round=self.race.rounds + 1)
      self.records.setdefault(s.depth, []).append(record)
      s.fold.push(record)
      if s.fold.kept.get(s.depth) == len(s.fold.history) - 1:  # as RunState.keep_best
        s.run.best = jax.tree.map(jnp.copy, {'params': s.run.ts.params,
                                             'state': s.run.ts.batch_stats})
      self.setup.say(f'slot {s.index} ' + loop_lib.epoch_line(record, s.fold.position,
                                                              self.config))
      states[s.depth] = race_lib.state_of(s.fold, s.depth)
      if states[s.depth] in race_lib.ACTIVE:  # the same depth trains on: a new rate or phase
        s.run.plan = s.fold.plan
    for depth in self.race.end_round(states):
      self.setup.say(f'-> depth {depth} cancelled: depth {self.race.candidate} ends at its '
                     'own depth')
    for s in self.active:
      run = self.race.runs[s.depth]
      if run.state in (race_lib.SHORT, race_lib.DONE):
        self.setup.say(f'-> depth {s.depth} {run.state} on slot {s.index}: '
                       f'{s.fold.position.left.get(s.depth, "")}')
        checkpoint.save_variables(workdir_lib.depth_path(self.workdir, s.depth), s.run.best)
      if run.state not in race_lib.ACTIVE:
        s.run = s.fold = None
    return True

  def assign(self):
    for slot_index, depth in self.race.assign():
      self._enter(self.slots[slot_index], depth)
      self.setup.say(f'race round {self.race.rounds + 1}: slot {slot_index} starts depth '
                     f'{depth}')

  def run(self, mngr, stop, should_stop, started: float) -> bool:
    """Races to the answer, saving every round; False if `should_stop` asked to stop."""
    while not self.race.done:
      self.assign()
      if not self.train_round(stop):
        self.save(mngr, time.time() - started)
        raise Preempted(f'preempted in race round {self.race.rounds + 1}; saved to '
                        f'{self.workdir}: rerun the same command to resume')
      record_files.write_history(self.workdir, self.history())
      self.save(mngr, time.time() - started)
      if not self.race.done and should_stop(self.history()):
        return False
    return True

  def finish(self):
    """Leaves `self.main` where the sequential search ends: its history, the final plan, the
    answer's weights over the warm-up's (on the first slot's mesh)."""
    history = race_lib.in_search(self.history())
    fold = search.fold_history(history, self.config, self.setup.sizes)
    if not fold.plan.done or fold.plan.depth != self.race.answer:
      raise AssertionError(f'the race chose depth {self.race.answer}, its history replays to '
                           f'{fold.plan}')
    best = checkpoint.load_variables(workdir_lib.depth_path(self.workdir, self.race.answer))
    main = self.main
    main.history, main.plan = history, fold.plan
    main.variables = parallel.replicate(
        {k: partition.merge(main.warmup[k], best[k]) for k in best}, self.setup.mesh)
    main.ts = main.best = main.metrics = None

  def summary_fields(self) -> dict:
    """What the race adds to summary.json (`results.cost.search_cost` counts its epochs)."""
    return {'critical_path_epochs': self.race.rounds,
            'speculative_epochs': sum(bool(r.get('speculative')) for r in self.history()),
            'race': self.race.summary()}
