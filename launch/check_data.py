r"""The data a config would train on, checked, without training: the class histogram of
every split and what the checks found (odn_jax/data/checks.py, docs/data.md).

  odn-check-data --config=quickstart
  odn-check-data --config=mnist [--config.data.KEY=VALUE ...]
  odn-check-data --config=my_config.py --print_config     # the resolved config, no data read

--config takes what odn-train takes: a shipped config's name or a config file (NAME:ARG).
From a clone, `python launch/check_data.py` is the same command.

Exit status 0 when a run could start, 2 when the checks would stop it before training (or
on bad input), 1 a bug.
"""

import sys

from absl import flags

from odn_jax import data
from odn_jax.cli.main import run_main
from odn_jax.config import files as config_files
from odn_jax.data import checks

_CONFIG = config_files.DEFINE_config('config')
flags.declare_key_flag('config')  # defined in odn_jax.config.files: listed by --help here
flags.mark_flag_as_required('config')
_PRINT_CONFIG = flags.DEFINE_bool('print_config', False,
                                  'Print the resolved config (overrides applied) and exit.')


def histogram_table(splits: dict, num_classes: int) -> str:
  """One row per class, one column per split, a total row."""
  names = [s for s in ('train', 'validation', 'test') if s in splits]
  counts = {s: checks.histogram(splits[s][1], num_classes) for s in names}
  lines = [f'{"class":>5} ' + ' '.join(f'{s:>17}' for s in names)]
  for k in range(num_classes):
    lines.append(f'{k:>5} ' + ' '.join(
        f'{counts[s][k]:>9,} {100 * counts[s][k] / max(len(splits[s][1]), 1):>6.2f}%'
        for s in names))
  lines.append(f'{"total":>5} ' + ' '.join(f'{len(splits[s][1]):>9,} {"":>7}' for s in names))
  return '\n'.join(lines)


def main(argv):
  del argv
  config = _CONFIG.value
  if _PRINT_CONFIG.value:
    print(config)
    return
  splits, findings = data.inspect(config)
  where = config.data.path or config.data.data_dir or ''
  print(f'{config.data.source} data {config.data.name!r}' + (f' ({where})' if where else '')
        + f', images {tuple(splits["train"][0].shape[1:])}, {config.data.num_classes} classes')
  print(histogram_table(splits, config.data.num_classes))
  for finding in findings:
    print(f'{finding.level}: {finding.message}')
  errors = sum(f.level == checks.ERROR for f in findings)
  if errors:
    print(f'{errors} error(s): a run with this config stops before training', file=sys.stderr)
    sys.exit(2)
  print('no errors: a run with this config would start'
        + (f' and report {sum(f.level == checks.WARNING for f in findings)} warning(s)'
           if any(f.level == checks.WARNING for f in findings) else ''))


if __name__ == '__main__':
  run_main(main)
