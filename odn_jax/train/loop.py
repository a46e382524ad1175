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

import dataclasses
import itertools
import json
import math
import signal
import time
from typing import Callable

import jax
import ml_collections

from odn_jax import search
from odn_jax.config import validate
from odn_jax.deploy import subnet
from odn_jax.errors import UserError
from odn_jax.models import size
from odn_jax.results import cost, early_exit, evaluation, markdown, summary as summary_lib, tensorboard
from odn_jax.run import checkpoint, compilation, lock, parallel, record_files, records
from odn_jax.run import start as start_lib
from odn_jax.search import race
from odn_jax.train import epoch as epoch_lib, steps as steps_lib
from odn_jax.train.exits import train_exits
from odn_jax.train.preemption import Preempted, preemption_check, signal_flag
from odn_jax.train.setup import Setup
from odn_jax.train.state import RunState


def check_config(config):
  """Every key's type and range (odn_jax.config.validate), what the machine decides, and
  what a race of depths needs."""
  validate.check(config)
  validate.check_devices(config, jax.device_count())
  race.check_config(config)
  race.check_devices(config, jax.device_count(), jax.process_count())


class NonFiniteLoss(Exception):
  """The training loss became NaN or infinite; the last good checkpoint is kept."""

def batch_order(history: list[dict], plan: search.Plan) -> tuple[int, ...]:
  """The key of the next epoch's batch order: a warm-up epoch's index; for a depth, (depth,
  epochs it has trained). A depth that starts from the warm-up weights then trains on the
  same batches whatever the search did before it: the fast schedule's depths are the paper
  schedule's, epoch for epoch, until it leaves them (tests/test_expansion.py)."""
  if plan.phase == search.WARMUP:
    return (len(history),)
  return (plan.depth, sum(r['phase'] != search.WARMUP and r['depth'] == plan.depth
                          for r in history))


def start_epoch(run: RunState, setup: Setup):
  """Places the epoch's inputs on `setup.mesh`; returns (batch order, steps left, rate)."""
  # One placement for every epoch's inputs: a fresh state or metrics on the default
  # device would be a new input sharding, and compile the same step a second time.
  run.ts, run.metrics = parallel.replicate((run.ts, run.metrics), setup.mesh)
  # A resumed epoch skips the steps it had done: the batches are a function of
  # (seed, order), so it sees exactly what an uninterrupted run would.
  return (batch_order(run.history, run.plan), setup.ds.steps_per_epoch - run.epoch_step,
          parallel.scalar(run.plan.learning_rate, setup.mesh))


def run_epoch(run: RunState, setup: Setup, stop: Callable[[], bool]) -> dict | None:
  """Trains the rest of the epoch `run` stands in, then validates every head it trains.

  Returns the epoch's history record (also appended to `run.history`), or None when
  `stop()` cut the epoch short: `run` then stands inside it, ready to be saved.
  """
  plan, epoch = run.plan, len(run.history)
  started, compile_started = time.time(), compilation.seconds()
  order, todo, rate = start_epoch(run, setup)
  run.ts, run.metrics, done = epoch_lib.train_epoch(
      setup.step(plan), run.ts, run.metrics, setup.batches('train', order, run.epoch_step),
      itertools.repeat(rate), todo, f'epoch {epoch + 1} {plan.phase} '
      f'd={plan.depth}', setup.quiet, stop=stop)
  run.epoch_step += done
  if done < todo:
    return None
  return end_epoch(run, setup, order, done, started, compile_started)


def end_epoch(run: RunState, setup: Setup, order, done: int, started: float,
              compile_started: float) -> dict:
  """Validates the epoch `run` has trained (`done` steps of it here); returns its record."""
  config, plan, epoch = setup.config, run.plan, len(run.history)
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
  record = records.EpochRecord(
      epoch=epoch + 1, phase=plan.phase, depth=plan.depth, learning_rate=plan.learning_rate,
      # Every scalar of the epoch: history.json, TensorBoard and report.md show them all.
      metrics={'loss': loss, 'val_accuracy': float(val[-1])},
      # exact: the percentage was computed in float64 from the counts
      val_correct=int(round(val[-1] * val_count / 100.0)), val_count=val_count,
      val_accuracy_per_head=[float(v) for v in val],
      steps=done, seconds=round(time.time() - started, 3),
      compile_s=round(compilation.seconds() - compile_started, 3)).to_json()
  run.history.append(record)
  run.epoch_step, run.metrics = 0, steps_lib.zero_metrics(plan.num_heads)
  return record


def epoch_line(record: dict, position: search.Position, config) -> str:
  # After an epoch that grew the network the controller's best is the new depth's (reset):
  # the "-> grow" line that follows says what the depth left behind reached.
  same_depth = position.plan.depth == record['depth']
  best = position.best_val_accuracy if same_depth and record['depth'] in position.kept else None
  return (f'epoch {record["epoch"]} {record["phase"]} d={record["depth"]}: loss '
          f'{record["loss"]:.4f}  val {record["val_accuracy"]:.2f}%  '
          + ('' if best is None else f'best {best:g}%  ')
          + f'target {config.search.target:g}%  lr {record["learning_rate"]:.3g}')

def extract_and_report(run: RunState, setup: Setup, workdir: str, started: float,
                       racer=None) -> dict:
  """Saves the optimal subnet, tests it once (with its early exits), writes the results
  (with what the search cost: a race of depths, `racer`, adds its own); returns the summary
  as summary.json holds it."""
  config, model, ds = setup.config, setup.model, setup.ds
  depth, variables = run.plan.depth, run.variables
  exit_epochs = config.early_exit_epochs if depth > 1 else 0
  if exit_epochs:
    variables = train_exits(variables, depth, len(run.history), setup)
  subnet.save(workdir, variables, subnet.model_info(config, model, ds, depth, exit_epochs),
              heads='all' if exit_epochs else 'last')
  # The test split is seen once, by the extracted subnet as saved.
  variables, _ = subnet.load(workdir)
  outputs = evaluation.head_outputs(model, variables, setup.batches('test'), depth)
  exits = {}
  if exit_epochs:
    flops = [size.forward_flops(model, ds.input_shape, d) for d in range(1, depth + 1)]
    exits = {'early_exit': early_exit.sweep(outputs, flops), 'early_exit_epochs': exit_epochs}
  summary = summary_lib.summary(config, model, ds, run.history, run.plan,
                                test_accuracy=outputs.accuracy[-1],
                                wall_clock_s=time.time() - started, **exits)
  trained = run.history if racer is None else racer.history()
  summary = dataclasses.replace(summary, **{
      **cost.search_cost(config, model, ds.input_shape, trained, ds.num_examples['train']),
      **({} if racer is None else racer.summary_fields())})
  record_files.write_history(workdir, trained)  # again: a run resumed after its search
  markdown.write_report(workdir, summary, run.history, model)
  record_files.write_summary(workdir, summary)  # last: a run with a summary has everything
  return summary.to_json()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       should_stop: Callable[[list], bool] = lambda history: False,
                       quiet: bool = False, fresh: bool = False) -> dict | None:
  """Runs (or resumes) the search in `workdir`; returns the summary, or None if stopped early.

  `should_stop(history)` is asked after every saved epoch; True leaves the run resumable.
  A SIGTERM or Ctrl-C finishes the current step, saves, and raises `Preempted`.
  `fresh`: delete the run the workdir holds and start over, once every check has passed.
  """
  # What may differ between the hosts of a multi-host job (their flags, the data each
  # reads) is checked by all before any waits for the others: one host's error stops all.
  with parallel.agreed():
    check_config(config)
  made = start_lib.create(workdir)
  try:
    with lock.held(workdir):  # one run per workdir, from here to the last file written
      finished = start_lib.prepare(config, workdir, fresh)
      if finished is not None:
        return finished
      return _train(config, workdir, should_stop, quiet, fresh)
  except UserError:
    if made:
      start_lib.remove_if_empty(workdir)
    raise


def _train(config, workdir: str, should_stop, quiet: bool, fresh: bool) -> dict | None:
  compilation.enable_cache(config.compilation_cache_dir)
  with parallel.agreed():
    setup = Setup(config, quiet)  # the data checks: the last before --fresh deletes
  racing = config.search.parallel_depths > 1
  if racing:  # the warm-up, and all after the search, on one slot's devices (train/race.py)
    from odn_jax.train import race as race_loop  # pylint: disable=g-import-not-at-top  # imports this module
    setup.mesh = race_loop.slot_mesh(config, 0)
  model = setup.model
  params, state = model.init(jax.random.key(config.seed), setup.ds.input_shape)
  run = RunState(config, model, setup.tx, {'params': params, 'state': state},
                 setup.ds.steps_per_epoch)
  identity = checkpoint.identity(config, getattr(setup.ds, 'fingerprint', {}))
  if fresh:
    start_lib.start(config, workdir, fresh=True)

  mngr, writer = checkpoint.manager(workdir, config.checkpoint.keep), None
  racer = None  # the race under way, with search.parallel_depths > 1
  # The signal handler stays until the last save is committed (mngr.close() below).
  with signal_flag() as flag:
    try:
      step, meta = mngr.latest_step(), None
      try:
        meta = None if step is None else checkpoint.restore_meta(mngr, step)
      except checkpoint.CheckpointError:  # damaged: restore_latest falls back past it
        pass
      if meta is not None and meta.get('race'):
        checkpoint.check_identity(mngr, step, meta, identity)
        racer = race_loop.Racer.restore(run, setup, workdir, mngr, step, meta)
      else:
        restored = checkpoint.restore_latest(
            mngr, lambda meta: parallel.replicated_like(
                run.template(search.Plan(**meta['plan'])), setup.mesh), identity)
        if restored is not None:
          run.restore(*restored)
          record_files.write_history(workdir, run.history)  # what the checkpoint holds
          setup.say(f'resumed {workdir} at epoch {len(run.history) + 1}, step '
                    f'{run.epoch_step}: {run.plan.phase} at depth {run.plan.depth}')
        else:
          setup.say(f'{run.plan.phase} at depth {run.plan.depth}: {run.plan.reason}')
      start_lib.start(config, workdir)  # config.json, once the checkpoints agree with it
      writer = tensorboard.MetricWriter(workdir, json.loads(config.to_json()))
      if racer is None:
        run.restore(parallel.replicate(run.tree(), setup.mesh), run.meta())
      started = time.time() - run.elapsed_s

      def save():
        if mngr.latest_step() == run.global_step:  # preempted right after a save: nothing new
          return
        run.elapsed_s = time.time() - started
        # Global arrays on the mesh: Orbax writes them collectively from every host.
        checkpoint.save_epoch(mngr, run.global_step, parallel.replicate(run.tree(), setup.mesh),
                              {**run.meta(), 'identity': identity})

      def stopped() -> Preempted:
        save()
        what = 'interrupted (Ctrl-C)' if flag.signum == signal.SIGINT else 'preempted'
        return Preempted(f'{what} at epoch {len(run.history) + 1}, step {run.epoch_step}; saved '
                         f'to {workdir}: rerun the same command to resume', flag.signum)

      fold = search.fold_history(run.history, config, setup.sizes)  # pushed one epoch at a time
      with preemption_check(run.global_step, flag) as preempted:
        while not run.plan.done and not (racing and run.plan.phase != search.WARMUP):
          record = run_epoch(run, setup, stop=preempted)
          if record is None:  # SIGTERM or Ctrl-C: save the position inside the epoch
            raise stopped()
          fold.push(record)
          position = fold.position
          run.keep_best(position)
          plan = position.plan
          run.move_to(plan, workdir)
          save()  # committed before the epoch is reported: an epoch shown is an epoch kept
          record_files.write_history(workdir, run.history)
          writer.write_epoch(record)
          setup.say(epoch_line(record, position, config))
          if (plan.phase, plan.depth) != (record['phase'], record['depth']):
            setup.say(f'-> {plan.phase} at depth {plan.depth}: {plan.reason}')
          if not run.plan.done and should_stop(run.history):
            return None
        if racing:  # the depths, raced from the warm-up weights
          racer = racer or race_loop.Racer.start(run, setup, workdir)
          if not racer.run(mngr, preempted, should_stop, started):
            return None
          racer.finish()
          for record in run.history[len(racer.warmup_history):]:
            writer.write_epoch(record)
        if flag.is_set():  # came during the last epoch's save: stop there, all of it saved
          raise stopped()
    finally:
      mngr.close()  # waits for the last save
      if writer is not None:
        writer.close()
  return extract_and_report(run, setup, workdir, started, racer)
