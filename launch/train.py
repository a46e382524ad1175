r"""Finds the optimal depth for a dataset and extracts that subnet.

  odn-train --config=quickstart --workdir=/tmp/odn_quickstart
  odn-train --config=mnist --workdir=/tmp/odn_mnist [--config.KEY=VALUE ...] [--fresh]
  odn-train --config=my_config.py:ARG --print_config     # the resolved config, no training

--config is a shipped config by name (quickstart, mnist, emnist, fashion_mnist, svhn,
cifar10) or a config file; NAME:ARG passes ARG to its get_config (`:fast`: the fast
schedule). Every key of odn_jax/config/defaults.py can be set with --config.KEY=VALUE.
Running the same command on an existing workdir resumes it; a finished one is reported.
The run ends with its depth table and the paths of report.md, plots/ and optimal/.
From a clone, `python launch/train.py` is the same command.

Exit status: 0 done, 2 bad input (one line), 3 non-finite loss, 75 preempted (rerun to
resume), 130 Ctrl-C (saved: rerun to resume), 1 a bug (traceback).
"""

import signal
import sys

from absl import flags

from odn_jax.cli.closing import closing_text
from odn_jax.cli.main import run_main
from odn_jax.config import files as config_files
from odn_jax.errors import FlagError
from odn_jax.run import parallel
from odn_jax.train import loop as trainer

_CONFIG = config_files.DEFINE_config('config')
flags.declare_key_flag('config')  # defined in odn_jax.config.files: listed by --help here
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints and results.')
_FRESH = flags.DEFINE_bool('fresh', False, 'Delete the run the workdir holds and start over '
                           '(once every check has passed; other files stay).')
_PRINT_CONFIG = flags.DEFINE_bool('print_config', False,
                                  'Print the resolved config (overrides applied) and exit.')
flags.mark_flag_as_required('config')

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: try again, the run resumes where it stopped
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it; the run resumes as after SIGTERM
EXIT_NON_FINITE = 3


def main(argv):
  del argv
  if _PRINT_CONFIG.value:
    print(_CONFIG.value)
    return
  workdir = _WORKDIR.value
  if not workdir:
    raise FlagError('--workdir is required: the folder for the run\'s checkpoints and results')
  parallel.initialize(_CONFIG.value.distributed)
  try:
    summary = trainer.train_and_evaluate(_CONFIG.value, workdir, fresh=_FRESH.value)
  except trainer.Preempted as e:
    if e.signum == signal.SIGINT:
      print(e, file=sys.stderr)
      sys.exit(EXIT_INTERRUPTED)
    print(f'preempted: {e}', file=sys.stderr)
    sys.exit(EXIT_PREEMPTED)
  except trainer.NonFiniteLoss as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(EXIT_NON_FINITE)
  print(closing_text(summary, workdir))


if __name__ == '__main__':
  run_main(main)
