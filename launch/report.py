r"""Writes (again) a finished run's report.md and plots/*.png (every run writes them at
its end; this redraws them, e.g. after an upgrade of odn_jax).

  odn-report --workdir=DIR

From a clone, `python launch/report.py` is the same command.
"""

from absl import flags

from odn_jax.cli.main import run_main
from odn_jax.results import markdown

_WORKDIR = flags.DEFINE_string('workdir', None, 'Workdir of a finished odn-train run.')
flags.mark_flag_as_required('workdir')


def main(argv):
  del argv
  print(f'wrote {markdown.write_report_of(_WORKDIR.value)}')


if __name__ == '__main__':
  run_main(main)
