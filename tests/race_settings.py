"""The tiny searches the race tests compare (tests/test_race_loop.py), and a command that runs
one: `python tests/race_settings.py WORKDIR SEED SCHEDULE K [SIGTERM_AT]`.

The quickstart at width 4 on 512 digits, depths capped at 6 epochs and a target of 60 %:
depths 1 and 2 fall short and depth 3 reaches it (with `fast`, depth 1 by the forecast and
depth 3 through the final schedule), so a race passes 3 depths and cancels a deeper one.
SIGTERM_AT: the process sends itself SIGTERM when it draws that many training batches.
"""

import json
import os
import signal
import sys

# tests/ for conftest, and the repository root for `configs` (as pytest's pythonpath = .).
_TESTS = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_TESTS, os.path.dirname(_TESTS)]

from conftest import quickstart_config  # noqa: E402  pylint: disable=g-import-not-at-top


def config_for(seed: int, schedule: str, parallel_depths: int):
  from odn_jax.config import defaults  # pylint: disable=g-import-not-at-top
  config = quickstart_config()
  if schedule != 'paper':
    defaults.with_schedule(config, schedule)
  config.seed = seed
  config.model.width = 4
  config.model.max_depth = 4
  config.data.train_subset = 512
  config.precise_bn_batches = 2
  config.warmup.epochs = 1
  config.search.target = 60.0
  config.search.patience = 2
  config.search.plateau_patience = 1
  config.search.max_epochs_per_depth = 6
  config.search.max_epochs_total = 0  # a cap across depths: a race refuses it
  config.search.final_epochs = min(config.search.final_epochs, 2)
  config.search.abandon_min_epochs = 3
  config.early_exit_epochs = 0
  config.measure_throughput = False
  config.checkpoint.keep = 1
  config.search.parallel_depths = parallel_depths
  return config


def sigterm_at(batches: int):
  """Sends this process SIGTERM as the `batches`-th training batch is drawn."""
  from odn_jax.train import setup as setup_lib  # pylint: disable=g-import-not-at-top
  drawn, original = [0], setup_lib.Setup.batches

  def counted(self, split, *args, **kwargs):
    for batch in original(self, split, *args, **kwargs):
      if split == 'train':
        drawn[0] += 1
        if drawn[0] == batches:
          os.kill(os.getpid(), signal.SIGTERM)
      yield batch
  setup_lib.Setup.batches = counted


def main(argv):
  workdir, seed, schedule, k = argv[1], int(argv[2]), argv[3], int(argv[4])
  if len(argv) > 5:
    sigterm_at(int(argv[5]))
  from odn_jax.train import loop, preemption  # pylint: disable=g-import-not-at-top
  try:
    summary = loop.train_and_evaluate(config_for(seed, schedule, k), workdir, quiet=True)
  except preemption.Preempted as e:
    print(f'PREEMPTED {e}', flush=True)
    return 3
  print('SUMMARY ' + json.dumps(summary), flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
