"""train_and_evaluate: the whole method of the paper, from warm-up to the extracted subnet.

  warm-up (all heads) -> grow(1) -> ... -> grow(d*) -> finetune(d*) -> extract(d*)

  setup
  while the plan is not done:
    record = run_epoch(...)          # train, then validate: one history record
    plan = controller(history)       # odn_jax.search
    run.move_to(plan)                # the one place weights move between depths
    save()                           # odn_jax.run.checkpoint: every epoch resumable
  extract, test and report

`odn_jax.search` decides where to go after every epoch, `odn_jax.search.growth` what a deeper
network starts from; this module only runs epochs and moves weights between them.
"""

import contextlib
import dataclasses
import functools
import itertools
import json
import math
import signal
import threading
import time
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections

from odn_jax import data, models, search
from odn_jax.errors import ConfigError
from odn_jax.models import head_key, partition, size
from odn_jax.results import early_exit, evaluation, markdown, summary as summary_lib, tensorboard
from odn_jax.run import checkpoint, compilation, parallel, workdir as workdir_lib
from odn_jax.search import growth
from odn_jax.train import epoch as epoch_lib, steps as steps_lib


def model_info(config, model, ds) -> dict:
  """What a reader of the extracted subnet needs to rebuild and feed it."""
  return {**models.spec(model), 'input_shape': list(ds.input_shape),
          'mean': list(config.data.mean), 'std': list(config.data.std),
          'dataset': ds.name, 'class_names': getattr(ds, 'class_names', None)}


class RunState:
  """Where one run stands: what `plan` trains, the weights kept so far, the history.

  All of it is saved every epoch (`tree`, `meta`), so a resumed run goes on exactly where
  an uninterrupted one would.
  """

  def __init__(self, config, model, tx, variables: dict, steps_per_epoch: int):
    self.config, self.model, self.tx = config, model, tx
    self.steps_per_epoch = steps_per_epoch
    self.history: list[dict] = []
    self.plan = search.start_plan(config)
    self.variables = variables  # full {'params', 'state'}: every piece's weights as kept
    # The warm-up's weights (the initial ones until then), where growth reads them.
    self.warmup = variables if self.keeps_warmup else None
    self.ts, self.best, self.metrics = self.fresh(self.plan)
    self.epoch_step = 0  # steps of the epoch under way already done (> 0 after a preemption)
    self.elapsed_s = 0.0

  @property
  def keeps_warmup(self) -> bool:
    """Whether growth reads the warm-up's weights (reloads them, or blends towards them)."""
    return self.config.grow.init == 'warmup' or self.config.grow.carry != 1.0

  @property
  def global_step(self) -> int:
    return len(self.history) * self.steps_per_epoch + self.epoch_step

  def fresh(self, plan, variables=None):
    """(train state, best, epoch metrics) of a plan that starts now from `variables`."""
    variables = self.variables if variables is None else variables
    active = {k: partition.prefix(v, plan.depth, plan.heads) for k, v in variables.items()}
    ts = steps_lib.create_train_state(self.tx, active['params'], active['state'])
    return ts, active, steps_lib.zero_metrics(plan.num_heads)

  def _saved(self, plan, variables, warmup, ts, best, metrics) -> dict:
    tree = {'variables': variables}
    if not plan.done:  # a finished search trains nothing more
      tree.update(ts=ts, best=best, metrics=metrics)
    if self.keeps_warmup:
      tree['warmup'] = warmup
    return tree

  def tree(self) -> dict:
    return self._saved(self.plan, self.variables, self.warmup, self.ts, self.best, self.metrics)

  def template(self, plan) -> dict:
    """The shapes of `tree()` when the run stands at `plan`, allocating nothing."""
    return jax.eval_shape(
        lambda v: self._saved(plan, v, v, *self.fresh(plan, v)), self.variables)

  def meta(self) -> dict:
    return {'history': self.history, 'plan': dataclasses.asdict(self.plan),
            'epoch_step': self.epoch_step, 'elapsed_s': self.elapsed_s}

  def restore(self, tree: dict, meta: dict):
    self.history, self.plan = meta['history'], search.Plan(**meta['plan'])
    self.epoch_step, self.elapsed_s = meta['epoch_step'], meta['elapsed_s']
    self.variables, self.warmup = tree['variables'], tree.get('warmup')
    self.ts, self.best, self.metrics = tree.get('ts'), tree.get('best'), tree.get('metrics')

  def keep_best(self, position: search.Position):
    """After each epoch: keeps its weights if the controller keeps them for the depth."""
    if position.kept.get(self.plan.depth) == len(self.history) - 1:
      # A copy: the next step donates (and so deletes) the arrays of `ts`.
      self.best = jax.tree.map(jnp.copy, {'params': self.ts.params,
                                          'state': self.ts.batch_stats})

  def move_to(self, plan, workdir: str):
    """Leaves the current plan for `plan`: the one place the active depth changes.

    The same depth training on (a new rate, or the fine-tune flag) changes nothing else:
    same weights, optimizer and best. A depth left keeps its best weights (also saved as
    its depth tag); the next starts from `growth.grown_variables` with a new optimizer, or
    with the momentum of the pieces both depths share where the trained weights carry over.
    """
    old, self.plan = self.plan, plan
    if plan.depth == old.depth and old.phase != search.WARMUP and not plan.done:
      return
    if old.phase == search.WARMUP:  # every head as the warm-up's last epoch left it
      self.variables = {'params': partition.merge(self.variables['params'], self.ts.params),
                        'state': partition.merge(self.variables['state'], self.ts.batch_stats)}
      if self.keeps_warmup:
        self.warmup = self.variables
    else:
      self.variables = {k: partition.merge(self.variables[k], self.best[k]) for k in self.best}
      checkpoint.save_variables(workdir_lib.depth_path(workdir, old.depth), self.best)
    if plan.done:
      if plan.depth != old.depth:  # a mode looked back to a shallower depth: its own weights
        tagged, _ = checkpoint.load_variables(workdir_lib.depth_path(workdir, plan.depth))
        self.variables = {k: partition.merge(self.variables[k], tagged[k]) for k in tagged}
      self.ts = self.best = self.metrics = None
      return
    grown = old.phase != search.WARMUP
    if grown:
      self.variables = growth.grown_variables(self.variables, self.warmup, plan.depth,
                                              self.config.grow.init, self.config.grow.carry)
    ts, self.best, self.metrics = self.fresh(plan)
    if grown and self.config.grow.init != 'warmup':  # momentum of the pieces both depths share
      ts = ts.replace(opt_state=partition.carry_over(self.ts.opt_state, ts.opt_state))
    self.ts = ts


def check_config(config):
  search.check_config(config)
  growth.check_init(config.grow.init)
  if config.precise_bn_batches < 0:
    raise ConfigError('config.precise_bn_batches must be >= 0 (0: running averages), got '
                      f'{config.precise_bn_batches}')
  if config.batch_size < 1 or config.eval_batch_size < 1:
    raise ConfigError('config.batch_size and config.eval_batch_size must be >= 1, got '
                      f'{config.batch_size} and {config.eval_batch_size}')
  if config.early_exit_epochs < 0:
    raise ConfigError(f'config.early_exit_epochs must be >= 0, got {config.early_exit_epochs}')


class Preempted(Exception):
  """SIGTERM arrived: the run saved its position mid-epoch and stopped; rerun to resume."""


class NonFiniteLoss(Exception):
  """The training loss became NaN or infinite; the last good checkpoint is kept."""


@contextlib.contextmanager
def sigterm_flag():
  """An Event set by SIGTERM (what TPU and cluster schedulers send before preempting)."""
  flag = threading.Event()
  if threading.current_thread() is not threading.main_thread():
    yield flag  # signals reach only the main thread
    return
  previous = signal.signal(signal.SIGTERM, lambda *_: flag.set())
  try:
    yield flag
  finally:
    signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def preemption_check(first_step: int):
  """`stop()`, asked before every train step from `first_step` on: True once the run must
  save and stop.

  One process: a SIGTERM sets a flag. A jax.distributed job: JAX's preemption service
  catches the SIGTERM of whichever host gets it, and every host stops at the same step
  (the sync point agreed over the coordination service), so all save the same one.
  """
  if jax.distributed.is_initialized():
    steps = itertools.count(first_step)  # one ask per step, in the same order on every host
    yield lambda: parallel.reached_preemption(next(steps))
    return
  with sigterm_flag() as flag:
    yield flag.is_set


class Setup:
  """What every epoch uses and nothing changes: data, mesh, network, steps, sizes."""

  def __init__(self, config, quiet: bool):
    # Every host runs the same epochs: process 0 speaks for them.
    self.config, self.quiet = config, quiet or not workdir_lib.is_writer()
    self.ds = data.load(config)
    self.mesh = parallel.make_mesh()
    self.model = models.from_config(config, self.ds.num_classes)
    self.tx = steps_lib.make_optimizer(config.optim)
    self.steps = steps_lib.make_steps(self.model, self.tx)
    # Sizes per depth, for a budget; FLOPs only when the budget limits them.
    self.sizes = size.depth_table(self.model, self.ds.input_shape, search.max_depth(config),
                                  flops=bool(config.search.budget.flops))

  def say(self, *args):
    if not self.quiet:
      print(*args, flush=True)

  def batches(self, split: str, order=0, skip: int = 0, count: int | None = None):
    """A split's batches, sharded over the mesh: the training split in the order keyed by
    `order` (`batch_order`) from its `skip`-th batch, or an evaluation split whole."""
    if split == 'train':
      batches = itertools.islice(self.ds.train_batches(order), skip,
                                 None if count is None else skip + count)
    else:
      batches = self.ds.eval_batches(split)
    return (parallel.shard_batch(b, self.mesh) for b in batches)

  def step(self, plan):
    """The jitted step that trains `plan`."""
    if plan.heads == 'all':
      return functools.partial(self.steps.warmup, depth=plan.depth,
                               one_pass=self.config.warmup.one_pass)
    return functools.partial(self.steps.train, depth=plan.depth)


def batch_order(history: list[dict], plan: search.Plan) -> tuple[int, ...]:
  """The key of the next epoch's batch order: a warm-up epoch's index; for a depth, (depth,
  epochs it has trained). A depth that starts from the warm-up weights then trains on the
  same batches whatever the search did before it: the fast schedule's depths are the paper
  schedule's, epoch for epoch, until it leaves them (tests/test_expansion.py)."""
  if plan.phase == search.WARMUP:
    return (len(history),)
  return (plan.depth, sum(r['phase'] != search.WARMUP and r['depth'] == plan.depth
                          for r in history))


def run_epoch(run: RunState, setup: Setup, stop: Callable[[], bool]) -> dict | None:
  """Trains the rest of the epoch `run` stands in, then validates every head it trains.

  Returns the epoch's history record (also appended to `run.history`), or None when
  `stop()` cut the epoch short: `run` then stands inside it, ready to be saved.
  """
  config, plan, epoch = setup.config, run.plan, len(run.history)
  order = batch_order(run.history, plan)
  started, compile_started = time.time(), compilation.seconds()
  # One placement for every epoch's inputs: a fresh state or metrics on the default
  # device would be a new input sharding, and compile the same step a second time.
  run.ts, run.metrics = parallel.replicate((run.ts, run.metrics), setup.mesh)
  # A resumed epoch skips the steps it had done: the batches are a function of
  # (seed, order), so it sees exactly what an uninterrupted run would.
  todo = setup.ds.steps_per_epoch - run.epoch_step
  rate = parallel.scalar(plan.learning_rate, setup.mesh)
  run.ts, run.metrics, done = epoch_lib.train_epoch(
      setup.step(plan), run.ts, run.metrics, setup.batches('train', order, run.epoch_step),
      itertools.repeat(rate), todo, f'epoch {epoch + 1} {plan.phase} '
      f'd={plan.depth}', setup.quiet, stop=stop)
  run.epoch_step += done
  if done < todo:
    return None
  loss = epoch_lib.summarize(run.metrics)['loss']
  if not math.isfinite(loss):
    raise NonFiniteLoss(
        f'training loss is {loss} at epoch {epoch + 1} ({plan.phase}, depth {plan.depth}, '
        f'lr {plan.learning_rate:g}); the last good checkpoint in the workdir is intact: '
        'lower the learning rate and rerun')
  if config.precise_bn_batches:
    run.ts = run.ts.replace(batch_stats=epoch_lib.precise_batch_stats(
        setup.steps.batch_stats, run.ts.params, run.ts.batch_stats,
        setup.batches('train', order, count=config.precise_bn_batches), plan.depth))
  val = epoch_lib.evaluate(setup.steps.eval, run.ts.params, run.ts.batch_stats,
                           setup.batches('validation'), plan.depth)
  val_count = setup.ds.num_examples['validation']
  record = {'epoch': epoch + 1, 'phase': plan.phase, 'depth': plan.depth,
            'learning_rate': plan.learning_rate, 'loss': loss,
            'val_accuracy': float(val[-1]),
            # exact: the percentage was computed in float64 from the counts
            'val_correct': int(round(val[-1] * val_count / 100.0)),
            'val_count': val_count,
            'val_accuracy_per_head': [float(v) for v in val],
            'steps': done,  # trained in `seconds` (fewer in an epoch resumed midway)
            'seconds': round(time.time() - started, 3),
            'compile_s': round(compilation.seconds() - compile_started, 3)}
  run.history.append(record)
  run.epoch_step, run.metrics = 0, steps_lib.zero_metrics(plan.num_heads)
  return record


def epoch_line(record: dict, position: search.Position, config) -> str:
  best = position.best_val_accuracy if record['depth'] in position.kept else None
  return (f'epoch {record["epoch"]} {record["phase"]} d={record["depth"]}: loss '
          f'{record["loss"]:.4f}  val {record["val_accuracy"]:.2f}%  '
          + ('' if best is None else f'best {best:g}%  ')
          + f'target {config.search.target:g}%  lr {record["learning_rate"]:.3g}')


def train_exits(variables: dict, depth: int, first_epoch: int, setup: Setup) -> dict:
  """`variables` with heads 1..depth-1 trained `config.early_exit_epochs` epochs on the
  frozen trunk of depth `depth` (its blocks and head `depth` stay as they are)."""
  config = setup.config
  trunk = parallel.replicate({k: partition.prefix(v, depth) for k, v in variables.items()},
                             setup.mesh)
  exits = {head_key(d): variables['params'][head_key(d)] for d in range(1, depth)}
  ts = parallel.replicate(steps_lib.create_train_state(setup.tx, exits, {}), setup.mesh)
  metrics = parallel.replicate(steps_lib.zero_metrics(depth - 1), setup.mesh)
  step = functools.partial(setup.steps.heads, trunk=trunk, depth=depth)
  rate = parallel.scalar(config.search.learning_rate, setup.mesh)
  for epoch in range(first_epoch, first_epoch + config.early_exit_epochs):
    ts, metrics, _ = epoch_lib.train_epoch(
        step, ts, metrics, setup.batches('train', epoch),
        itertools.repeat(rate), setup.ds.steps_per_epoch,
        f'early exits, epoch {epoch - first_epoch + 1}', setup.quiet)
  trained = epoch_lib.summarize(metrics)
  setup.say(f'early exits: heads 1..{depth - 1} trained {config.early_exit_epochs} epochs on '
            f'the final trunk: loss {trained["loss"]:.4f}, train accuracy '
            + ' '.join(f'{a:.1f}%' for a in trained['accuracy']))
  return {'params': partition.merge(variables['params'], ts.params),
          'state': variables['state']}


def extract_and_report(run: RunState, setup: Setup, workdir: str, started: float) -> dict:
  """Saves the optimal subnet, tests it once (with its early exits), writes the results."""
  config, model, ds = setup.config, setup.model, setup.ds
  depth, variables = run.plan.depth, run.variables
  exit_epochs = config.early_exit_epochs if depth > 1 else 0
  if exit_epochs:
    variables = train_exits(variables, depth, len(run.history), setup)
  checkpoint.save_optimal(workdir, variables, depth,
                          {**model_info(config, model, ds), 'early_exit_epochs': exit_epochs},
                          heads='all' if exit_epochs else 'last')
  # The test split is seen once, by the extracted subnet as saved.
  subnet, _ = checkpoint.load_variables(workdir_lib.optimal_path(workdir))
  outputs = evaluation.head_outputs(model, subnet, setup.batches('test'), depth)
  summary = summary_lib.summary(config, model, ds, run.history, run.plan,
                           test_accuracy=outputs.accuracy[-1],
                           wall_clock_s=time.time() - started)
  if exit_epochs:
    flops = [size.forward_flops(model, ds.input_shape, d) for d in range(1, depth + 1)]
    summary['early_exit'] = early_exit.sweep(outputs, flops)
    summary['early_exit_epochs'] = exit_epochs
  summary_lib.write_summary(workdir, summary)
  markdown.write_report(workdir, summary, run.history, model)
  return summary


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       should_stop: Callable[[list], bool] = lambda history: False,
                       quiet: bool = False) -> dict | None:
  """Runs (or resumes) the search in `workdir`; returns the summary, or None if stopped early.

  `should_stop(history)` is asked after every saved epoch; True leaves the run resumable.
  A SIGTERM finishes the current step, saves, and raises `Preempted`.
  """
  # What may differ between the hosts of a multi-host job (their flags, the data each
  # reads) is checked by all before any waits for the others: one host's error stops all.
  with parallel.agreed():
    check_config(config)
    parallel.check_batch_sizes(config)
  finished = workdir_lib.prepare(config, workdir)
  if finished is not None:
    return finished
  compilation.enable_cache(config.compilation_cache_dir)
  with parallel.agreed():
    setup = Setup(config, quiet)
  model = setup.model
  params, state = model.init(jax.random.key(config.seed), setup.ds.input_shape)
  run = RunState(config, model, setup.tx, {'params': params, 'state': state},
                 setup.ds.steps_per_epoch)

  mngr = checkpoint.manager(workdir, config.checkpoint.keep)
  writer = tensorboard.MetricWriter(workdir, json.loads(config.to_json()))
  try:
    step = mngr.latest_step()
    if step is not None:
      meta = checkpoint.restore_meta(mngr, step)
      template = parallel.replicated_like(run.template(search.Plan(**meta['plan'])), setup.mesh)
      run.restore(checkpoint.restore_tree(mngr, step, template), meta)
      setup.say(f'resumed {workdir} at epoch {len(run.history) + 1}, step {run.epoch_step}: '
                f'{run.plan.phase} at depth {run.plan.depth}')
    else:
      setup.say(f'{run.plan.phase} at depth {run.plan.depth}: {run.plan.reason}')
    run.restore(parallel.replicate(run.tree(), setup.mesh), run.meta())
    started = time.time() - run.elapsed_s

    def save():
      if mngr.latest_step() == run.global_step:  # preempted right after a save: nothing new
        return
      run.elapsed_s = time.time() - started
      # Global arrays on the mesh: Orbax writes them collectively from every host.
      checkpoint.save_epoch(mngr, run.global_step, parallel.replicate(run.tree(), setup.mesh),
                            run.meta())

    fold = search.fold_history(run.history, config, setup.sizes)  # pushed one epoch at a time
    with preemption_check(run.global_step) as preempted:
      while not run.plan.done:
        record = run_epoch(run, setup, stop=preempted)
        if record is None:  # SIGTERM: save the position inside the epoch
          save()
          raise Preempted(f'preempted at epoch {len(run.history) + 1}, step {run.epoch_step}; '
                          f'saved to {workdir}: rerun the same command to resume')
        fold.push(record)
        position = fold.position
        run.keep_best(position)
        setup.say(epoch_line(record, position, config))
        plan = position.plan
        if (plan.phase, plan.depth) != (record['phase'], record['depth']):
          setup.say(f'-> {plan.phase} at depth {plan.depth}: {plan.reason}')
        run.move_to(plan, workdir)
        summary_lib.write_history(workdir, run.history)
        writer.write_epoch(record)
        save()
        if not run.plan.done and should_stop(run.history):
          return None
  finally:
    mngr.close()  # waits for the last save
    writer.close()
  return extract_and_report(run, setup, workdir, started)
