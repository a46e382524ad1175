r"""Writes (again) a finished run's report.md and plots/*.png.

  python launch/report.py --workdir=DIR
"""

from absl import flags

from odn_jax.cli.main import run_main
from odn_jax.results import markdown

_WORKDIR = flags.DEFINE_string('workdir', None, 'Workdir of a finished launch/train.py run.')
flags.mark_flag_as_required('workdir')


def main(argv):
  del argv
  print(f'wrote {markdown.write_report_of(_WORKDIR.value)}')


if __name__ == '__main__':
  run_main(main)
