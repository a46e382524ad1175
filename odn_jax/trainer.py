"""train_and_evaluate: the whole method of the paper, from warm-up to the extracted subnet.

  warm-up (all heads) -> grow(1) -> ... -> grow(d*) -> finetune(d*) -> extract(d*)

`odn_jax.search` decides where to go after every epoch, `odn_jax.growth` is where the
depth changes, `odn_jax.checkpoint` makes every epoch resumable; this module only runs
epochs and moves weights between them.
"""

import contextlib
import functools
import itertools
import json
import math
import os
import signal
import threading
import time
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from odn_jax import (checkpoint, compilation, data, early_exit, growth, parallel, partition,
                     report, search, size)
from odn_jax.models import ResNet
from odn_jax.train import epoch as epoch_lib
from odn_jax.train import steps as steps_lib
from odn_jax.train.steps import TrainState

SUMMARY = 'summary.json'
CONFIG = 'config.json'


def build_model(config, num_classes: int) -> ResNet:
  dtype = 'bfloat16' if config.half_precision else 'float32'
  return ResNet(config.model.arch, num_classes, config.model.width, jnp.dtype(dtype))


def model_info(config, ds) -> dict:
  """What a reader of the extracted subnet needs to rebuild and feed it."""
  return {'arch': config.model.arch, 'width': config.model.width,
          'num_classes': ds.num_classes, 'input_shape': list(ds.input_shape),
          'mean': list(config.data.mean), 'std': list(config.data.std),
          'dataset': ds.name}


class Search:
  """The mutable position of one run; everything in it is saved every epoch."""

  def __init__(self, config, model, tx, variables, steps_per_epoch: int):
    self.config, self.model, self.tx = config, model, tx
    self.steps_per_epoch = steps_per_epoch
    self.variables = variables  # full {'params', 'state'}: every piece's latest weights
    self.warmup = variables  # full trees after warm-up ('warmup' growth reloads them)
    self.history: list[dict] = []
    self.plan = search.start_plan(config)
    self.ts = self.fresh_train_state(self.plan)
    self.best = self.active(self.plan)  # best-on-validation weights of the current segment
    self.metrics = steps_lib.zero_metrics(self.num_heads(self.plan))  # of the epoch under way
    self.epoch_step = 0  # steps of that epoch already done (> 0 only after a preemption)
    self.elapsed_s = 0.0

  def num_heads(self, plan) -> int:
    return self.model.max_depth if plan.phase == search.WARMUP else 1

  @property
  def global_step(self) -> int:
    return len(self.history) * self.steps_per_epoch + self.epoch_step

  def active(self, plan) -> dict:
    """{'params', 'state'} that `plan` trains: the warm-up trains every block and head."""
    if plan.phase == search.WARMUP:
      return {k: partition.prefix(v, self.model.max_depth, heads='all')
              for k, v in self.variables.items()}
    return {k: partition.prefix(v, plan.depth) for k, v in self.variables.items()}

  def fresh_train_state(self, plan) -> TrainState:
    active = self.active(plan)
    return steps_lib.create_train_state(self.tx, active['params'], active['state'])

  def tree(self) -> dict:
    return {'variables': self.variables, 'warmup': self.warmup, 'ts': self.ts, 'best': self.best,
            'metrics': self.metrics}

  def meta(self) -> dict:
    return {'history': self.history, 'plan': vars(self.plan), 'epoch_step': self.epoch_step,
            'elapsed_s': self.elapsed_s}

  def restore(self, tree, meta):
    self.variables, self.warmup, self.ts, self.best, self.metrics = (
        tree['variables'], tree['warmup'], tree['ts'], tree['best'], tree['metrics'])
    self.history, self.plan = meta['history'], search.Plan(**meta['plan'])
    self.epoch_step, self.elapsed_s = meta['epoch_step'], meta['elapsed_s']

  def template(self, plan):
    """The shape of the saved tree when the run stands at `plan`."""
    tree = {**self.tree(), 'ts': self.fresh_train_state(plan), 'best': self.active(plan),
            'metrics': steps_lib.zero_metrics(self.num_heads(plan))}
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype), tree)

  def keep_best(self, position: search.Position):
    """Called after each epoch: keeps its weights if the controller keeps them for the depth."""
    if self.plan.phase == search.WARMUP:
      return
    if position.kept.get(self.plan.depth) == len(self.history) - 1:
      # A copy: the next step donates (and so deletes) the arrays of `ts`.
      self.best = jax.tree.map(jnp.copy, {'params': self.ts.params, 'state': self.ts.state})

  def move_to(self, plan, workdir):
    """Leave the current (phase, depth) for `plan`: the one place the active depth changes.

    Fine-tuning the depth being grown changes nothing (same weights, optimizer and best);
    a deeper depth starts from `growth.grown_variables` with a new optimizer, or with the
    momentum of the pieces both depths share where the trained weights carry over.
    """
    old = self.plan
    self.plan = plan
    if old.phase == search.WARMUP:
      self.variables = {'params': partition.merge(self.variables['params'], self.ts.params),
                        'state': partition.merge(self.variables['state'], self.ts.state)}
      self.warmup = self.variables
    elif plan.depth == old.depth and plan.phase == search.FINETUNE:
      return
    else:  # the depth is left, or the search ends: the depth keeps its best weights
      self.variables = {k: partition.merge(self.variables[k], self.best[k]) for k in self.best}
      checkpoint.save_variables(checkpoint.depth_path(workdir, old.depth), self.best)
    if plan.phase == search.DONE:
      if plan.depth != old.depth:  # a mode looked back to a shallower depth: its own weights
        tagged, _ = checkpoint.load_variables(checkpoint.depth_path(workdir, plan.depth))
        self.variables = {k: partition.merge(self.variables[k], tagged[k]) for k in tagged}
      return
    grown = old.phase != search.WARMUP
    if grown:
      self.variables = growth.grown_variables(self.variables, self.warmup, plan.depth,
                                              self.config.grow.init, self.config.grow.carry)
    new_ts = self.fresh_train_state(plan)
    if grown and self.config.grow.init != 'warmup':  # momentum of the pieces both depths share
      new_ts = new_ts.replace(opt_state=partition.carry_over(self.ts.opt_state, new_ts.opt_state))
    self.ts, self.best = new_ts, self.active(plan)
    self.metrics = steps_lib.zero_metrics(self.num_heads(plan))


def check_config(config):
  search.check_config(config)
  growth.check_init(config.grow.init)
  if config.precise_bn_batches < 0:
    raise ValueError('config.precise_bn_batches must be >= 0 (0: running averages), got '
                     f'{config.precise_bn_batches}')
  if config.batch_size < 1 or config.eval_batch_size < 1:
    raise ValueError('config.batch_size and config.eval_batch_size must be >= 1, got '
                     f'{config.batch_size} and {config.eval_batch_size}')


def prepare_workdir(config, workdir: str) -> dict | None:
  """Creates `workdir` or checks it holds this config's run; returns a finished summary."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise NotADirectoryError(f'workdir {workdir} is a file; pass a directory')
  os.makedirs(workdir, exist_ok=True)
  if not os.access(workdir, os.W_OK):
    raise PermissionError(f'workdir {workdir} is not writable; pass a directory you can write')
  config_file = os.path.join(workdir, CONFIG)
  if os.path.exists(config_file):
    with open(config_file) as f:
      saved = json.load(f)
    current = json.loads(config.to_json())
    if saved != current:
      differ = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
      raise ValueError(f'workdir {workdir} holds a run of another config (differs in '
                       f'{", ".join(differ)}); use a new --workdir or --fresh to start over')
  else:
    with open(config_file, 'w') as f:
      f.write(config.to_json(indent=1))
  summary_file = os.path.join(workdir, SUMMARY)
  if os.path.exists(summary_file):
    with open(summary_file) as f:
      return json.load(f)
  return None


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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       should_stop: Callable[[list], bool] = lambda history: False,
                       quiet: bool = False) -> dict | None:
  """Runs (or resumes) the search in `workdir`; returns the summary, or None if stopped early.

  `should_stop(history)` is asked after every saved epoch; True leaves the run resumable.
  A SIGTERM finishes the current step, saves, and raises `Preempted`.
  """
  check_config(config)
  parallel.check_batch_sizes(config)
  finished = prepare_workdir(config, workdir)
  if finished is not None:
    return finished
  say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
  compilation.enable_cache(config.compilation_cache_dir)

  ds = data.load(config)
  mesh = parallel.make_mesh()
  model = build_model(config, ds.num_classes)
  tx = steps_lib.make_optimizer(config.optim)
  steps = steps_lib.make_steps(model, tx)
  params, state = model.init(jax.random.key(config.seed), ds.input_shape)
  run = Search(config, model, tx, {'params': params, 'state': state}, ds.steps_per_epoch)
  # Sizes per depth, for a budget; FLOPs only when the budget limits them (one compile each).
  sizes = size.depth_table(model, ds.input_shape, search.max_depth(config),
                           flops=bool(config.search.budget.flops))

  mngr = checkpoint.manager(workdir, config.checkpoint.keep)
  if mngr.latest_step() is not None:
    meta = checkpoint.restore_meta(mngr, mngr.latest_step())
    run.restore(checkpoint.restore_tree(mngr, mngr.latest_step(),
                                        run.template(search.Plan(**meta['plan']))), meta)
    say(f'resumed {workdir} at epoch {len(run.history) + 1}, step {run.epoch_step}: '
        f'{run.plan.phase} at depth {run.plan.depth}')
  else:
    say(f'{run.plan.phase} at depth {run.plan.depth}: {run.plan.reason}')
  run.restore(parallel.replicate(run.tree(), mesh), run.meta())

  def save():
    if mngr.latest_step() == run.global_step:  # preempted right after a save: nothing new
      return
    run.elapsed_s = time.time() - started
    checkpoint.save_epoch(mngr, run.global_step, run.tree(), run.meta())

  writer = report.MetricWriter(workdir)
  started = time.time() - run.elapsed_s
  with sigterm_flag() as preempted:
    while run.plan.phase != search.DONE:
      plan, epoch = run.plan, len(run.history)
      epoch_started, compile_started = time.time(), compilation.seconds()
      # One placement for every epoch's inputs: a fresh state or metrics on the default
      # device would be a new input sharding, and compile the same step a second time.
      run.ts, run.metrics = parallel.replicate((run.ts, run.metrics), mesh)
      if plan.phase == search.WARMUP:
        step = functools.partial(steps.warmup, one_pass=config.warmup.one_pass)
      else:
        step = functools.partial(steps.train, depth=plan.depth)
      learning_rates = itertools.repeat(plan.learning_rate)
      # A resumed epoch skips the steps it had done: the batches are a function of
      # (seed, epoch), so it sees exactly what an uninterrupted run would.
      batches = itertools.islice(ds.train_batches(epoch), run.epoch_step, None)
      learning_rates = itertools.islice(learning_rates, run.epoch_step, None)
      desc = f'epoch {epoch + 1} {plan.phase} d={plan.depth}'
      run.ts, run.metrics, done = epoch_lib.train_epoch(
          step, run.ts, run.metrics, (parallel.shard_batch(b, mesh) for b in batches),
          learning_rates, ds.steps_per_epoch - run.epoch_step, desc, quiet,
          stop=preempted.is_set)
      run.epoch_step += done
      if run.epoch_step < ds.steps_per_epoch:  # SIGTERM: save the position inside the epoch
        save()
        mngr.close()
        raise Preempted(f'preempted at epoch {epoch + 1}, step {run.epoch_step}; saved to '
                        f'{workdir}: rerun the same command to resume')

      train_metrics = epoch_lib.summarize(run.metrics)
      if not math.isfinite(train_metrics['loss']):
        mngr.close()
        raise NonFiniteLoss(
            f'training loss is {train_metrics["loss"]} at epoch {epoch + 1} ({plan.phase}, '
            f'depth {plan.depth}, lr {plan.learning_rate:g}); the last good checkpoint in '
            f'{workdir} is intact: lower the learning rate and rerun')
      depth = model.max_depth if plan.phase == search.WARMUP else plan.depth
      if config.precise_bn_batches:
        run.ts = run.ts.replace(state=epoch_lib.precise_batch_stats(
            steps.batch_stats, run.ts.params, run.ts.state,
            (parallel.shard_batch(b, mesh) for b in itertools.islice(
                ds.train_batches(epoch), config.precise_bn_batches)), depth))
      val = epoch_lib.evaluate(steps.eval, run.ts.params, run.ts.state,
                               (parallel.shard_batch(b, mesh)
                                for b in ds.eval_batches('validation')), depth)
      val_count = ds.num_examples['validation']
      run.history.append({'epoch': epoch + 1, 'phase': plan.phase, 'depth': plan.depth,
                          'learning_rate': plan.learning_rate, 'loss': train_metrics['loss'],
                          'val_accuracy': float(val[-1]),
                          # exact: the percentage was computed in float64 from the counts
                          'val_correct': int(round(val[-1] * val_count / 100.0)),
                          'val_count': val_count,
                          'val_accuracy_per_head': [float(v) for v in val],
                          'seconds': round(time.time() - epoch_started, 3),
                          'compile_s': round(compilation.seconds() - compile_started, 3)})
      run.epoch_step = 0
      run.metrics = steps_lib.zero_metrics(run.num_heads(plan))
      position = search.replay(run.history, config, sizes)
      run.keep_best(position)
      say(f'{desc}: loss {train_metrics["loss"]:.4f}  val {val[-1]:.2f}%  '
          + (f'best {position.best_val_accuracy:g}%  ' if plan.phase != search.WARMUP else '')
          + f'target {config.search.target:g}%  lr {plan.learning_rate:.3g}')
      next_plan = position.plan
      if (next_plan.phase, next_plan.depth) != (plan.phase, plan.depth):
        say(f'-> {next_plan.phase} at depth {next_plan.depth}: {next_plan.reason}')
        run.move_to(next_plan, workdir)
      else:
        run.plan = next_plan
      report.write_history(workdir, run.history)
      writer.write_epoch(run.history[-1])
      save()
      if run.plan.phase != search.DONE and should_stop(run.history):
        mngr.close()
        return None
  mngr.close()
  writer.close()

  depth = run.plan.depth
  checkpoint.save_optimal(workdir, run.variables, depth, model_info(config, ds))
  # The test split is seen once, by the extracted subnet as saved, with every early exit.
  subnet, _ = checkpoint.load_variables(checkpoint.optimal_path(workdir))
  probs, labels = early_exit.head_probabilities(
      model, subnet, (parallel.shard_batch(b, mesh) for b in ds.eval_batches('test')), depth)
  flops = [size.forward_flops(model, ds.input_shape, d) for d in range(1, depth + 1)]
  exits = early_exit.sweep(probs, labels, flops)
  summary = report.summary(config, model, ds, run.history, run.plan,
                           test_accuracy=exits[-1]['accuracy'],  # threshold 1: the last head
                           wall_clock_s=time.time() - started)
  summary['early_exit'] = exits
  report.write_summary(workdir, summary)
  report.write_report(workdir)
  return summary
