"""Setup: what every epoch of a run uses and nothing changes (data, mesh, network, steps)."""

import functools
import itertools

from odn_jax import data, models, search
from odn_jax.models import size
from odn_jax.run import parallel, workdir as workdir_lib
from odn_jax.train import steps as steps_lib


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
