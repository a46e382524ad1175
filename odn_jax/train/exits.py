"""Early exits: the shallower heads trained on the final trunk, after the search."""

import functools
import itertools

from odn_jax.models import head_key, partition
from odn_jax.run import parallel
from odn_jax.train import epoch as epoch_lib, steps as steps_lib
from odn_jax.train.setup import Setup


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
