"""Several runs side by side: one row per workdir, read from its summary.json.

  rows = compare.rows(compare.load_summaries(['/tmp/run_a', '/tmp/run_b']))
  print(compare.format_table(rows))          # text
  print(compare.format_table(rows, markdown=True))
"""

import posixpath

from odn_jax.errors import UserError
from odn_jax.run import record_files, workdir as workdir_lib
from odn_jax.run.workdir import SUMMARY


# (key, header, format) of each column, in order.
COLUMNS = (
    ('run', 'run', '{}'),
    ('dataset', 'dataset', '{}'),
    ('arch', 'arch', '{}'),
    ('schedule', 'mode / start / growth', '{}'),
    ('optimal_depth', 'depth', '{}'),
    ('val_accuracy', 'val %', '{:.2f}'),
    ('test_accuracy', 'test %', '{:.2f}'),
    ('params_optimal', 'params', '{:,}'),
    ('memory_reduction_pct', 'reduction %', '{:.2f}'),
    ('epochs_total', 'epochs', '{}'),
    ('wall_clock_s', 'wall-clock s', '{:.1f}'),
)


class RunNotFinished(UserError, FileNotFoundError):
  """A workdir without a summary.json: missing, or its run has not finished."""


def load_summary(workdir: workdir_lib.PathLike) -> dict:
  """The fields of the workdir's summary.json (a summary of an older run may lack some)."""
  path = workdir_lib.file(workdir, SUMMARY)
  if not workdir_lib.path(workdir).is_dir():
    raise RunNotFinished(f'{workdir}: no such directory')
  if not path.is_file():
    raise RunNotFinished(f'{workdir}: no {SUMMARY}, the run has not finished (rerun the same '
                         'train command to complete it)')
  return record_files.load_summary_fields(workdir)


def load_summaries(workdirs) -> dict[str, dict]:
  """{workdir: summary} in the order given; the first unusable workdir raises."""
  return {w: load_summary(w) for w in workdirs}


def run_names(workdirs) -> list[str]:
  """Short names: each workdir without the path prefix all of them share."""
  # Absolute local paths or URIs (gs://...), compared as text: '/'-separated either way.
  paths = [posixpath.normpath(str(workdir_lib.path(w))) for w in workdirs]
  if len(paths) < 2:
    return [posixpath.basename(p) or p for p in paths]
  common = posixpath.commonpath(paths)
  return [posixpath.relpath(p, common) if p != common else posixpath.basename(p)
          for p in paths]


def row(name: str, summary: dict) -> dict:
  """The compared numbers of one run; a key the summary lacks is None."""
  schedule = ' / '.join(str(summary[k]) for k in ('search_mode', 'search_start', 'grow_init'))
  out = {key: summary.get(key) for key, _, _ in COLUMNS}
  return {**out, 'run': name, 'schedule': schedule, 'max_depth': summary.get('max_depth')}


def rows(summaries: dict[str, dict]) -> list[dict]:
  return [row(n, s) for n, s in zip(run_names(list(summaries)), summaries.values())]


def _cell(value, fmt: str) -> str:
  if value is None:
    return '-'
  return fmt.format(value)


def _cells(r: dict) -> list[str]:
  cells = [_cell(r[key], fmt) for key, _, fmt in COLUMNS]
  if r['optimal_depth'] is not None and r.get('max_depth') is not None:
    cells[[k for k, _, _ in COLUMNS].index('optimal_depth')] += f' of {r["max_depth"]}'
  return cells


def format_table(table: list[dict], markdown: bool = False) -> str:
  headers = [h for _, h, _ in COLUMNS]
  body = [_cells(r) for r in table]
  if markdown:
    lines = ['| ' + ' | '.join(headers) + ' |',
             '|' + '|'.join('---' if i < 4 else '---:' for i in range(len(headers))) + '|']
    return '\n'.join(lines + ['| ' + ' | '.join(c) + ' |' for c in body]) + '\n'
  widths = [max(len(x) for x in col) for col in zip(headers, *body)]
  align = lambda cells: '  '.join(c.ljust(w) if i < 4 else c.rjust(w)
                                  for i, (c, w) in enumerate(zip(cells, widths)))
  return '\n'.join([align(headers)] + [align(c) for c in body])


def compare_runs(workdirs, markdown: bool = False) -> str:
  """The table of several finished runs (text, or markdown)."""
  return format_table(rows(load_summaries(workdirs)), markdown=markdown)
