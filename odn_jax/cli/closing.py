"""The lines a finished run ends with on the console: what it found and where to look.

summary.json holds everything; the console gets what a person reads first (the depth
table, accuracy, size and speed against the full network) and the paths of the rest.
"""

from odn_jax.models import speed
from odn_jax.results import summary as summary_lib
from odn_jax.run import workdir as workdir_lib


def against_full(s: dict) -> list[str]:
  """The subnet's compute and measured speed against the full network (its size is in the
  depth table's first line)."""
  lines = []
  if s.get('flops_optimal') and s.get('flops_full'):
    lines.append(f'compute: {s["flops_optimal"] / 1e6:,.2f} of {s["flops_full"] / 1e6:,.2f} '
                 f'MFLOPs per example ({s["flops_full"] / s["flops_optimal"]:.1f}x fewer)')
  t = s.get('throughput')
  if t:
    lines.append(f'speed on {t["device"]} (images/s, subnet against full network): ' + ', '.join(
        f'batch {b} {t["optimal"][speed.key(b)]:,.0f} against {t["full"][speed.key(b)]:,.0f} '
        f'({t["speedup"][speed.key(b)]:.1f}x)' for b in t['batch_sizes']))
  return lines


def closing_text(s: dict, workdir: str) -> str:
  """The depth table, the subnet against the full network, and where the files are."""
  files = [('report', workdir_lib.file(workdir, workdir_lib.REPORT)),
           ('plots', workdir_lib.file(workdir, workdir_lib.PLOTS)),
           ('subnet', workdir_lib.optimal_path(workdir)),
           ('summary', workdir_lib.file(workdir, workdir_lib.SUMMARY))]
  return '\n'.join([summary_lib.depth_table_text(s), *against_full(s), ''] +
                   [f'{name + ":":<11} {path}' for name, path in files])
