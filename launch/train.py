r"""Finds the optimal depth for a dataset and extracts that subnet.

  python launch/train.py --config=configs/mnist.py --workdir=/tmp/odn_mnist \
      [--config.grow.init=identity ...] [--fresh]
  odn-train --config=quickstart --workdir=/tmp/odn_quickstart   # installed: a shipped config by name

Running the same command on an existing workdir resumes it; a finished one is reported.
"""

import json
import sys

from absl import flags

from odn_jax.cli.main import run_main
from odn_jax.config import files as config_files
from odn_jax.results import summary as summary_lib
from odn_jax.run import parallel, workdir as workdir_lib
from odn_jax.train import loop as trainer

_CONFIG = config_files.DEFINE_config('config')
flags.declare_key_flag('config')  # defined in odn_jax.config.files: listed by --help here
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints and results.')
_FRESH = flags.DEFINE_bool('fresh', False, 'Delete what the workdir holds and start over.')
flags.mark_flags_as_required(['config', 'workdir'])

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: try again, the run resumes where it stopped
EXIT_NON_FINITE = 3


def main(argv):
  del argv
  workdir = _WORKDIR.value
  parallel.initialize(_CONFIG.value.distributed)
  if _FRESH.value:  # one process deletes, every process waits for it
    if workdir_lib.is_writer():
      workdir_lib.path(workdir).rmtree(missing_ok=True)
    workdir_lib.sync(f'fresh {workdir_lib.path(workdir)}')
  try:
    summary = trainer.train_and_evaluate(_CONFIG.value, workdir)
  except trainer.Preempted as e:
    print(f'preempted: {e}', file=sys.stderr)
    sys.exit(EXIT_PREEMPTED)
  except trainer.NonFiniteLoss as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(EXIT_NON_FINITE)
  print(summary_lib.depth_table_text(summary))
  print(json.dumps(summary, indent=1))


if __name__ == '__main__':
  run_main(main)
