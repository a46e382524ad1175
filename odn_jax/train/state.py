"""RunState: where one run stands (plan, weights, optimizer, history), and how it moves
from one depth to the next."""

import dataclasses

import jax
import jax.numpy as jnp

from odn_jax import search
from odn_jax.models import partition
from odn_jax.run import checkpoint, workdir as workdir_lib
from odn_jax.search import growth
from odn_jax.train import steps as steps_lib


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
    self.warmup = variables if growth.keeps_warmup(config) else None
    self.ts, self.best, self.metrics = self.fresh(self.plan)
    self.epoch_step = 0  # steps of the epoch under way already done (> 0 after a preemption)
    self.elapsed_s = 0.0

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
    if growth.keeps_warmup(self.config):
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
    its depth tag); what the next starts from, weights and optimizer state, is growth's
    answer (`odn_jax.search.growth`).
    """
    old, self.plan = self.plan, plan
    if plan.depth == old.depth and old.phase != search.WARMUP and not plan.done:
      return
    after_warmup = old.phase == search.WARMUP
    if after_warmup:  # every head as the warm-up's last epoch left it
      self.variables = {'params': partition.merge(self.variables['params'], self.ts.params),
                        'state': partition.merge(self.variables['state'], self.ts.batch_stats)}
      if growth.keeps_warmup(self.config):
        self.warmup = self.variables
    else:
      self.variables = {k: partition.merge(self.variables[k], self.best[k]) for k in self.best}
      checkpoint.save_variables(workdir_lib.depth_path(workdir, old.depth), self.best)
    if plan.done:
      if plan.depth != old.depth:  # a mode looked back to a shallower depth: its own weights
        tagged = checkpoint.load_variables(workdir_lib.depth_path(workdir, plan.depth))
        self.variables = {k: partition.merge(self.variables[k], tagged[k]) for k in tagged}
      self.ts = self.best = self.metrics = None
      return
    self.variables = growth.start_variables(self.config, self.variables, self.warmup,
                                            plan.depth, after_warmup)
    ts, self.best, self.metrics = self.fresh(plan)
    self.ts = ts.replace(opt_state=growth.start_opt_state(self.config, self.ts.opt_state,
                                                          ts.opt_state, after_warmup))
