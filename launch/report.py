r"""Writes (again) a finished run's report.md and plots/*.png.

  python launch/report.py --workdir=DIR
"""

from absl import flags

from odn_jax import report
from odn_jax.launch_utils import run_main

_WORKDIR = flags.DEFINE_string('workdir', None, 'Workdir of a finished launch/train.py run.')
flags.mark_flag_as_required('workdir')


def main(argv):
  del argv
  print(f'wrote {report.write_report_of(_WORKDIR.value)}')


if __name__ == '__main__':
  run_main(main)
