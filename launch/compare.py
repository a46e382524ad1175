r"""One table of several finished runs, from each workdir's summary.json.

  python launch/compare.py /tmp/run_a /tmp/run_b [...] [--markdown=FILE]

Columns: dataset, arch, search mode / start / growth, optimal depth, validation and test
accuracy, params of the subnet, memory reduction, epochs, wall-clock seconds.
"""

from absl import flags
from etils import epath

from odn_jax.cli.main import run_main
from odn_jax.errors import FlagError
from odn_jax.results import compare

_MARKDOWN = flags.DEFINE_string('markdown', None, 'Also write the table as markdown to FILE.')


def main(argv):
  workdirs = argv[1:]
  if not workdirs:
    raise FlagError('give one or more workdirs: compare.py DIR1 DIR2 ... [--markdown=FILE]')
  table = compare.rows(compare.load_summaries(workdirs))
  print(compare.format_table(table))
  if _MARKDOWN.value:
    epath.Path(_MARKDOWN.value).write_text(compare.format_table(table, markdown=True))
    print(f'wrote {_MARKDOWN.value}')


if __name__ == '__main__':
  run_main(main)
