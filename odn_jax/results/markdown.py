"""report.md of a finished run (with its plots), and the subnet's model card."""

import itertools

from odn_jax import models
from odn_jax.models import ResNet, size, speed
from odn_jax.search import race
from odn_jax.results import model_card, plots as plots_lib, timeline
from odn_jax.run import record_files, records, workdir as workdir_lib


def warnings_markdown(warnings: list[str]) -> list[str]:
  """report.md's Warnings section, when the run had any."""
  if not warnings:
    return []
  return ['', '## Warnings', ''] + [f'- **{w}**' for w in warnings]


def throughput_markdown(t: dict | None) -> list[str]:
  """report.md's measured inference speed of the subnet against the full network."""
  if not t:
    return []
  lines = ['', '## Inference speed', '',
           f'Forward pass measured at the end of the run on {t["device"]} (median of '
           f'{t["runs"]} runs after warm-up, images/s):', '',
           '| network | depth | ' + ' | '.join(f'batch {b}' for b in t['batch_sizes']) + ' |',
           '|---|---|' + '---|' * len(t['batch_sizes'])]
  for name, row in (('optimal subnet', t['optimal']), ('full network', t['full'])):
    lines.append(f'| {name} | {row["depth"]} | '
                 + ' | '.join(f'{row[speed.key(b)]:,.0f}' for b in t['batch_sizes']) + ' |')
  lines.append('| speed-up | | ' + ' | '.join(f'{t["speedup"][speed.key(b)]:.2f}x'
                                              for b in t['batch_sizes']) + ' |')
  return lines


def epochs_markdown(history: list[dict]) -> list[str]:
  """report.md's Epochs section: every metric of the epochs (EpochRecord.metrics, as
  TensorBoard has them) at the last epoch of each phase and depth, in the search's order."""
  stretches = [list(group) for _, group in itertools.groupby(
      records.epochs(history), lambda r: (r.phase, r.depth))]
  if not stretches:
    return []
  names = list(dict.fromkeys(k for stretch in stretches for k in stretch[-1].metrics))
  lines = ['', '## Epochs', '', 'Each phase and depth of the search at its last epoch:', '',
           '| epochs | phase | depth | learning rate | ' + ' | '.join(names) + ' |',
           '|---|---|---|---|' + '---|' * len(names)]
  for stretch in stretches:
    first, last = stretch[0], stretch[-1]
    span = f'{first.epoch}' if first is last else f'{first.epoch}-{last.epoch}'
    cells = [f'{last.metrics[k]:.4g}' if k in last.metrics else '' for k in names]
    lines.append(f'| {span} | {last.phase} | {last.depth} | {last.learning_rate:.3g} | '
                 + ' | '.join(cells) + ' |')
  return lines


def early_exit_table(rows: list[dict]) -> list[tuple[str, dict]]:
  """(thresholds, row) per run of consecutive thresholds whose examples exit alike: one
  table row each ('0.7 to 1'), every threshold as given ('0.999', not a second '1.00')."""
  groups = []
  for r in rows:
    if groups and groups[-1][-1]['exits_per_head'] == r['exits_per_head']:
      groups[-1].append(r)
    else:
      groups.append([r])
  return [(f'{g[0]["threshold"]:g}' + (f' to {g[-1]["threshold"]:g}' if len(g) > 1 else ''),
           g[0]) for g in groups]


def write_report(workdir: str, s: records.Summary, history: list[dict], model: ResNet) -> str:
  """report.md and plots/*.png of a finished run: its summary, its history (plain records,
  as the controller folds them), its network; and optimal/README.md, the extracted
  subnet's model card.

  Written by process 0 only (every process of a multi-host run calls it)."""
  path = workdir_lib.file(workdir, workdir_lib.REPORT)
  if not workdir_lib.is_writer():
    return path
  if workdir_lib.model_info_path(workdir).is_file():
    workdir_lib.write_text(workdir_lib.model_card_path(workdir), model_card.text(
        s, record_files.load_model_info(workdir), workdir))
  sizes = size.depth_table(model, s.input_shape)
  # The sequential search's epochs: a race's speculative depths are in its timeline.
  history = race.in_search(history)
  # Early exits whose heads were not trained on the final trunk are stale: not reported.
  early_exit_rows = s.early_exit if s.early_exit_epochs else None
  plots = plots_lib.write_plots(workdir, s.to_json(), history, sizes, early_exit_rows)
  lines = [
      f'# Optimal depth of {s.arch} on {s.dataset}', '',
      f'**Optimal depth: {s.optimal_depth} of {s.max_depth}** — validation '
      f'{s.val_accuracy:.2f}%, test {s.test_accuracy:.2f}% (target '
      f'{s.target_accuracy:g}% ± {s.tolerance:g}), {s.params_optimal:,} of '
      f'{s.params_full:,} parameters ({s.memory_reduction_pct:.2f}% smaller), '
      f'{s.flops_optimal / 1e6:.1f} of {s.flops_full / 1e6:.1f} MFLOPs per example.', '',
      f'Search: schedule `{s.schedule}`, mode `{s.search_mode}`, {s.epochs_total} epochs '
      f'({s.warmup_epochs} of warm-up), {s.wall_clock_s:.0f} s on {s.num_devices} device(s)'
      + (f' in {s.num_processes} processes' if s.num_processes > 1 else '')
      + f', seed {s.seed}. Stopped because: {s.stop_reason}.',
      *warnings_markdown(s.warnings),
      '', '| depth | epochs | best val. acc. | params | bytes | MFLOPs | memory reduction | '
      'left because |', '|---|---|---|---|---|---|---|---|']
  for r in s.per_depth:
    mark = ' **(optimal)**' if r['depth'] == s.optimal_depth else ''
    lines.append(f'| {r["depth"]}{mark} | {r["epochs"]} | {r["best_val_accuracy"]:.2f}% | '
                 f'{r["params"]:,} | {r["bytes"]:,} | {r["flops"] / 1e6:.1f} | '
                 f'{r["memory_reduction_pct"]:.2f}% | {r["left_because"]} |')
  lines += epochs_markdown(history)
  if s.compile:
    lines += ['', '## Compilation', '', '| phase | depth | epochs (s) | compiling (s) | share |',
              '|---|---|---|---|---|']
    lines += [f'| {r["phase"]} | {r["depth"]} | {r["epochs_s"]:.1f} | {r["compile_s"]:.2f} | '
              f'{r["compile_pct"]:.1f}% |' for r in s.compile]
  lines += timeline.markdown(s.to_json())
  lines += throughput_markdown(s.throughput)
  if early_exit_rows:
    lines += ['', '## Early exit (test split)', '',
              f'Heads 1..{s.optimal_depth - 1} trained {s.early_exit_epochs} more epochs '
              'after the search on the final trunk, frozen: the blocks and head '
              f'{s.optimal_depth} are those measured above.', '',
              '| threshold | accuracy | MFLOPs / example | exits per head |', '|---|---|---|---|']
    lines += [f'| {threshold} | {r["accuracy"]:.2f}% | {r["mean_flops"] / 1e6:.2f} | '
              f'{r["exits_per_head"]} |' for threshold, r in early_exit_table(early_exit_rows)]
  lines += ['', '## Plots', ''] + [f'![{p.name}](plots/{p.name})' for p in plots]
  workdir_lib.write_text(path, '\n'.join(lines) + '\n')
  return path


def write_report_of(workdir: str) -> str:
  """`write_report` of a finished workdir, from what it holds on disk."""
  config = workdir_lib.load_config(workdir)
  model = models.from_config(config, config.data.num_classes)
  return write_report(workdir, record_files.load_summary(workdir),
                      record_files.load_history(workdir), model)
