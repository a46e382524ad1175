r"""One table of several finished runs, from each workdir's summary.json.

  odn-compare WORKDIR [WORKDIR ...] [--markdown=FILE]
  odn-compare /tmp/odn_paper /tmp/odn_fast --markdown=table.md

Positional arguments: WORKDIR, one or more workdirs of finished odn-train runs (local
paths or anything etils.epath reads, e.g. gs://); each gives one row, in the order given.
A workdir without summary.json (missing, or its run unfinished) is named in a one-line
error (exit status 2). From Python: odn_jax.compare_runs(workdirs).

Columns: dataset, arch, search mode / start / growth, optimal depth, validation and test
accuracy, params of the subnet, memory reduction, epochs, wall-clock seconds.
From a clone, `python launch/compare.py` is the same command.
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
    raise FlagError('give one or more workdirs: odn-compare WORKDIR [WORKDIR ...] '
                    '[--markdown=FILE]')
  table = compare.rows(compare.load_summaries(workdirs))
  print(compare.format_table(table))
  if _MARKDOWN.value:
    try:
      epath.Path(_MARKDOWN.value).write_text(compare.format_table(table, markdown=True))
    except OSError as e:  # no such folder, no permission, a directory, a full disk
      raise FlagError(f'cannot write --markdown={_MARKDOWN.value} ({e.strerror or e}); give a '
                      'file in a folder you can write') from None
    print(f'wrote {_MARKDOWN.value}')


if __name__ == '__main__':
  run_main(main)
