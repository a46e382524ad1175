"""What a run found: its `Summary` (summary.json, written by `odn_jax.run.record_files`)."""

import jax

from odn_jax import search
from odn_jax.data import checks
from odn_jax.models import size, speed
from odn_jax.run import records, workdir as workdir_lib


def kept_val_accuracy(history, tried: dict, depth: int) -> float:
  """Validation accuracy of the weights extracted at `depth`: those the controller kept for
  it, or the warm-up's last epoch when the search ended before any depth trained."""
  if depth in tried:
    return tried[depth]['best_val_accuracy']
  return history[-1]['val_accuracy_per_head'][depth - 1]


def summary(config, model, ds, history, plan, test_accuracy: float, wall_clock_s: float,
            early_exit: list[dict] | None = None,
            early_exit_epochs: int | None = None) -> records.Summary:
  """The early-exit sweep and epochs, where the subnet's exits were trained."""
  depth = plan.depth
  params_table = size.depth_table(model, ds.input_shape, flops=bool(config.search.budget.flops))
  tried = search.per_depth(history, config, params_table)
  sizes = {row['depth']: row
           for row in size.depth_table(model, ds.input_shape, max([depth, *tried]))}
  full = params_table[-1]
  # Timed by the host that writes the summary alone: the others would share its machine
  # (or not) and time nothing it reports.
  measured = ({'throughput': speed.subnet_against_full(model, ds.input_shape, depth)}
              if config.get('measure_throughput', True) and workdir_lib.is_writer() else {})
  return records.Summary(**{
      'dataset': ds.name,
      'arch': config.model.arch,
      'width': config.model.width,
      'max_depth': search.max_depth(config),
      'input_shape': list(ds.input_shape),
      'optimal_depth': depth,
      'target_accuracy': config.search.target,
      'tolerance': config.search.tolerance,
      'val_accuracy': kept_val_accuracy(history, tried, depth),
      'test_accuracy': test_accuracy,
      'params_optimal': sizes[depth]['params'],
      'params_full': full['params'],
      'memory_reduction_pct': sizes[depth]['memory_reduction_pct'],
      'flops_optimal': sizes[depth]['flops'],
      'flops_full': size.forward_flops(model, ds.input_shape, model.max_depth),
      'per_depth': [{**row, **{k: sizes[d][k] for k in ('params', 'bytes', 'flops',
                                                         'memory_reduction_pct')}}
                    for d, row in tried.items()],
      'warmup_epochs': sum(h['phase'] == search.WARMUP for h in history),
      'epochs_total': len(history),
      'schedule': config.get('schedule', 'paper'),
      'search_mode': config.search.mode,
      'search_start': config.search.start,
      'warmup_profile': search.warmup_profile(history),
      'stop_reason': plan.reason,
      'grow_init': config.grow.init,
      'wall_clock_s': round(wall_clock_s, 1),
      'compile': compile_share(history),
      'num_devices': jax.device_count(),
      'num_processes': jax.process_count(),  # hosts of a multi-host job, 1 otherwise
      'seed': config.seed,
      # The data checks' warnings and a test accuracy no better than chance: loud, not silent.
      'warnings': checks.run_warnings(getattr(ds, 'warnings', []), test_accuracy,
                                      ds.num_classes),
      **measured, 'early_exit': early_exit, 'early_exit_epochs': early_exit_epochs})


def compile_share(history) -> list[dict]:
  """Per phase and depth: seconds of its epochs and of compiling inside them."""
  rows = {}
  for h in records.epochs(history):
    if h.seconds is None:  # histories written before epochs were timed
      continue
    row = rows.setdefault((h.phase, h.depth), {'phase': h.phase, 'depth': h.depth,
                                               'epochs_s': 0.0, 'compile_s': 0.0})
    row['epochs_s'] += h.seconds
    row['compile_s'] += h.compile_s
  return [{**row, 'epochs_s': round(row['epochs_s'], 2), 'compile_s': round(row['compile_s'], 2),
           'compile_pct': round(100 * row['compile_s'] / max(row['epochs_s'], 1e-9), 2)}
          for row in rows.values()]


def depth_table_text(s: dict) -> str:
  """The console's table of a summary as `train_and_evaluate` returns it."""
  lines = [f'{s["dataset"]} {s["arch"]}: optimal depth {s["optimal_depth"]} of {s["max_depth"]}'
           f', val {s["val_accuracy"]:.2f}%, test {s["test_accuracy"]:.2f}%, '
           f'{s["params_optimal"]:,} of {s["params_full"]:,} params '
           f'({s["memory_reduction_pct"]:.2f}% smaller), {s["epochs_total"]} epochs, '
           f'{s["wall_clock_s"]:.0f} s',
           f'{"depth":>5} {"epochs":>6} {"best val":>9} {"params":>12} {"reduction":>10}']
  for row in s['per_depth']:
    mark = '  <- optimal' if row['depth'] == s['optimal_depth'] else ''
    lines.append(f'{row["depth"]:>5} {row["epochs"]:>6} {row["best_val_accuracy"]:>8.2f}% '
                 f'{row["params"]:>12,} {row["memory_reduction_pct"]:>9.2f}%{mark}')
  lines += [f'warning: {w}' for w in s['warnings']]
  return '\n'.join(lines)
