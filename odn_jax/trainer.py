"""train_and_evaluate: the whole method of the paper, from warm-up to the extracted subnet.

  warm-up (all heads) -> grow(1) -> ... -> grow(d*) -> finetune(d*) -> extract(d*)

`odn_jax.search` decides where to go after every epoch, `odn_jax.growth` is where the
depth changes, `odn_jax.checkpoint` makes every epoch resumable; this module only runs
epochs and moves weights between them.
"""

import json
import math
import os
import time
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from odn_jax import checkpoint, data, growth, partition, report, search, size
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


def warmup_learning_rates(config, epoch: int, steps_per_epoch: int):
  """The warm-up's cosine decay from its peak, one value per step of `epoch`."""
  total = max(config.warmup.epochs * steps_per_epoch, 1)
  peak = config.warmup.learning_rate
  for i in range(steps_per_epoch):
    t = (epoch * steps_per_epoch + i) / total
    yield peak * 0.5 * (1.0 + math.cos(math.pi * t))


class Search:
  """The mutable position of one run; everything in it is saved every epoch."""

  def __init__(self, config, model, tx, variables):
    self.config, self.model, self.tx = config, model, tx
    self.variables = variables  # full {'params', 'state'}: every piece's latest weights
    self.warmup = variables  # full trees after warm-up ('warmup' growth reloads them)
    self.history: list[dict] = []
    self.plan = search.next_plan([], config)
    self.ts = self.fresh_train_state(self.plan)
    self.best = self.active(self.plan)  # best-on-validation weights of the current segment
    self.elapsed_s = 0.0

  def active(self, plan):
    depth = plan.depth if plan.phase != search.WARMUP else self.model.max_depth
    if plan.phase == search.WARMUP:  # every head trains
      return {k: partition.extract(v, depth, heads='all') for k, v in self.variables.items()}
    return {k: partition.prefix(v, depth) for k, v in self.variables.items()}

  def fresh_train_state(self, plan) -> TrainState:
    active = self.active(plan)
    return steps_lib.create_train_state(self.tx, active['params'], active['state'])

  def tree(self) -> dict:
    return {'variables': self.variables, 'warmup': self.warmup, 'ts': self.ts, 'best': self.best}

  def meta(self) -> dict:
    return {'history': self.history, 'plan': vars(self.plan), 'elapsed_s': self.elapsed_s}

  def restore(self, tree, meta):
    self.variables, self.warmup, self.ts, self.best = (
        tree['variables'], tree['warmup'], tree['ts'], tree['best'])
    self.history, self.plan = meta['history'], search.Plan(**meta['plan'])
    self.elapsed_s = meta['elapsed_s']

  def template(self, plan):
    """The shape of the saved tree when the run stands at `plan`."""
    position = (self.plan, self.ts, self.best)
    self.plan, self.ts, self.best = plan, self.fresh_train_state(plan), self.active(plan)
    tree = self.tree()
    self.plan, self.ts, self.best = position
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype), tree)

  def keep_best(self):
    """Called after each epoch: the segment's best epoch so far holds the weights to keep."""
    if self.plan.phase == search.WARMUP:
      return
    seg = search.segment(self.history, self.config)
    if seg.best_epoch == seg.epochs - 1:
      # A copy: the next step donates (and so deletes) the arrays of `ts`.
      self.best = jax.tree.map(jnp.copy, {'params': self.ts.params, 'state': self.ts.state})

  def move_to(self, plan, workdir):
    """Leave the current (phase, depth) for `plan`: the one place the active depth changes."""
    old = self.plan
    if old.phase == search.WARMUP:
      self.variables = {'params': partition.merge(self.variables['params'], self.ts.params),
                        'state': partition.merge(self.variables['state'], self.ts.state)}
      self.warmup = self.variables
    else:
      self.variables = {k: partition.merge(self.variables[k], self.best[k]) for k in self.best}
      checkpoint.save_variables(checkpoint.depth_path(workdir, old.depth), self.best)
    self.plan = plan
    if plan.phase == search.DONE:
      return
    back = plan.depth < old.depth and old.phase != search.WARMUP
    if back:  # a mode chose a shallower depth: its own best weights, as it converged
      tagged, _ = checkpoint.load_variables(checkpoint.depth_path(workdir, plan.depth))
      self.variables = {k: partition.merge(self.variables[k], tagged[k]) for k in tagged}
    elif plan.phase == search.GROW and old.phase != search.WARMUP:
      self.variables = growth.grown_variables(self.variables, self.warmup, plan.depth,
                                              self.config.grow.init)
    new_ts = self.fresh_train_state(plan)
    carry = old.phase != search.WARMUP and self.config.grow.init != 'warmup' and not back
    if carry:  # momentum of the pieces both depths share
      new_ts = new_ts.replace(opt_state=partition.carry_over(self.ts.opt_state, new_ts.opt_state))
    self.ts, self.best = new_ts, self.active(plan)


def check_config(config):
  search.check_config(config)
  growth.check_init(config.grow.init)
  if config.batch_size < 1 or config.eval_batch_size < 1:
    raise ValueError('config.batch_size and config.eval_batch_size must be >= 1, got '
                     f'{config.batch_size} and {config.eval_batch_size}')


def prepare_workdir(config, workdir: str) -> dict | None:
  """Creates `workdir` or checks it holds this config's run; returns a finished summary."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise NotADirectoryError(f'workdir {workdir} is a file; pass a directory')
  os.makedirs(workdir, exist_ok=True)
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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       should_stop: Callable[[list], bool] = lambda history: False,
                       quiet: bool = False) -> dict | None:
  """Runs (or resumes) the search in `workdir`; returns the summary, or None if stopped early.

  `should_stop(history)` is asked after every saved epoch; True leaves the run resumable.
  """
  check_config(config)
  finished = prepare_workdir(config, workdir)
  if finished is not None:
    return finished
  say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))

  ds = data.load(config)
  model = build_model(config, ds.num_classes)
  tx = steps_lib.make_optimizer(config.optim)
  steps = steps_lib.make_steps(model, tx)
  params, state = model.init(jax.random.key(config.seed), ds.input_shape)
  run = Search(config, model, tx, {'params': params, 'state': state})
  # Sizes per depth, for a budget; FLOPs only when the budget limits them (one compile each).
  sizes = size.depth_table(model, ds.input_shape, search.max_depth(config),
                           flops=bool(config.search.budget.flops))

  mngr = checkpoint.manager(workdir, config.checkpoint.keep)
  if mngr.latest_step() is not None:
    meta = checkpoint.restore_meta(mngr, mngr.latest_step())
    run.restore(checkpoint.restore_tree(mngr, mngr.latest_step(),
                                        run.template(search.Plan(**meta['plan']))), meta)
    say(f'resumed {workdir} after epoch {len(run.history)}: {run.plan.phase} at depth '
        f'{run.plan.depth}')
  else:
    say(f'{run.plan.phase} at depth {run.plan.depth}: {run.plan.reason}')

  started = time.time() - run.elapsed_s
  while run.plan.phase != search.DONE:
    plan, epoch = run.plan, len(run.history)
    if plan.phase == search.WARMUP:
      step = steps.warmup
      learning_rates = warmup_learning_rates(config, epoch, ds.steps_per_epoch)
      num_heads, eval_depth = model.max_depth, model.max_depth
    else:
      step = lambda ts, m, b, lr, d=plan.depth: steps.train(ts, m, b, lr, depth=d)
      learning_rates = [plan.learning_rate] * ds.steps_per_epoch
      num_heads, eval_depth = 1, plan.depth
    desc = f'epoch {epoch + 1} {plan.phase} d={plan.depth}'
    run.ts, train_metrics = epoch_lib.train_epoch(
        step, run.ts, steps_lib.zero_metrics(num_heads), ds.train_batches(epoch),
        learning_rates, ds.steps_per_epoch, desc, quiet)
    val = epoch_lib.evaluate(steps.eval, run.ts.params, run.ts.state,
                             ds.eval_batches('validation'), eval_depth)
    run.history.append({'epoch': epoch + 1, 'phase': plan.phase, 'depth': plan.depth,
                        'learning_rate': plan.learning_rate, 'loss': train_metrics['loss'],
                        'val_accuracy': float(val[-1]),
                        'val_accuracy_per_head': [float(v) for v in val]})
    run.keep_best()
    best = (max(h['val_accuracy'] for h in run.history if h['phase'] == plan.phase
                and h['depth'] == plan.depth))
    say(f'{desc}: loss {train_metrics["loss"]:.4f}  val {val[-1]:.2f}%  best {best:.2f}%  '
        f'target {config.search.target:g}%  lr {plan.learning_rate:.3g}')
    next_plan = search.next_plan(run.history, config, sizes)
    if (next_plan.phase, next_plan.depth) != (plan.phase, plan.depth):
      say(f'-> {next_plan.phase} at depth {next_plan.depth}: {next_plan.reason}')
      run.move_to(next_plan, workdir)
    else:
      run.plan = next_plan
    run.elapsed_s = time.time() - started
    report.write_history(workdir, run.history)
    checkpoint.save_epoch(mngr, epoch + 1, run.tree(), run.meta())
    if run.plan.phase != search.DONE and should_stop(run.history):
      mngr.close()
      return None
  mngr.close()

  depth = run.plan.depth
  info = model_info(config, ds)
  checkpoint.save_optimal(workdir, run.best, depth, info)
  subnet, _ = checkpoint.load_variables(checkpoint.optimal_path(workdir))
  test = epoch_lib.evaluate(steps.eval, subnet['params'], subnet['state'],
                            ds.eval_batches('test'), depth)
  summary = report.summary(config, model, ds, run.history, run.plan,
                           test_accuracy=float(test[-1]),
                           wall_clock_s=time.time() - started)
  report.write_summary(workdir, summary)
  return summary
