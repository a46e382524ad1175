"""What a search cost: epochs, the critical path in rounds of epochs, training FLOPs.

The FLOPs of an epoch: 3x the forward FLOPs per training example of what each step runs
(forward + backward), plus one forward per example that recomputes BatchNorm statistics
(`precise_bn_batches`). A raced search counts every epoch it trained, its speculative
depths included.
"""

from typing import Sequence

from odn_jax import search
from odn_jax.models import size


def training_flops(history: Sequence[dict], config, forward: Sequence[float],
                   examples_per_epoch: int) -> float:
  """FLOPs of every epoch `history` records; `forward[d - 1]` is depth d's forward FLOPs
  per example (`models.size.forward_flops`), for every depth up to the warm-up's."""
  total = 0.0
  for record in history:
    if record['phase'] == search.WARMUP:
      depths = record['depth']
      per_example = (forward[depths - 1] if config.warmup.one_pass
                     else sum(forward[:depths]))
      stats_forward = forward[depths - 1]
    else:
      per_example = stats_forward = forward[record['depth'] - 1]
    total += 3 * per_example * examples_per_epoch
    total += stats_forward * config.precise_bn_batches * config.batch_size
  return total


def search_cost(config, model, input_shape, trained: Sequence[dict],
                examples_per_epoch: int) -> dict:
  """summary.json's cost fields of a search that trained the epochs `trained` (in a race:
  every depth-epoch, the speculative ones too). The critical path is the number of epochs
  after the warm-up, one after the other; a race replaces it by its rounds."""
  deepest = max((r['depth'] for r in trained), default=1)
  forward = [size.forward_flops(model, input_shape, d) for d in range(1, deepest + 1)]
  return {'parallel_depths': config.search.get('parallel_depths', 1),
          'critical_path_epochs': sum(r['phase'] != search.WARMUP for r in trained),
          'epochs_total': len(trained),
          'training_flops': training_flops(trained, config, forward, examples_per_epoch)}
