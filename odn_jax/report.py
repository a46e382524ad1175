"""What a finished run reports: summary.json and the table of every depth tried."""

import json
import os

import jax

from odn_jax import search, size


def summary(config, model, ds, history, plan, test_accuracy: float, wall_clock_s: float) -> dict:
  depth = plan.depth
  tried = search.per_depth(history)
  sizes = {row['depth']: row for row in size.depth_table(model, ds.input_shape, max(tried))}
  full = size.depth_table(model, ds.input_shape, flops=False)[-1]
  last = [h['val_accuracy'] for h in history if (h['phase'], h['depth']) ==
          (history[-1]['phase'], depth)]
  return {
      'dataset': ds.name,
      'arch': config.model.arch,
      'width': config.model.width,
      'max_depth': search.max_depth(config),
      'optimal_depth': depth,
      'target_accuracy': config.search.target,
      'tolerance': config.search.tolerance,
      'val_accuracy': max(last),
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
      'search_mode': config.search.mode,
      'search_start': config.search.start,
      'warmup_profile': search.warmup_profile(history),
      'stop_reason': plan.reason,
      'grow_init': config.grow.init,
      'wall_clock_s': round(wall_clock_s, 1),
      'num_devices': jax.device_count(),
      'seed': config.seed,
  }


def _write_json(path: str, value):
  with open(path + '.tmp', 'w') as f:
    json.dump(value, f, indent=1)
  os.replace(path + '.tmp', path)  # a file that exists is complete


def write_summary(workdir: str, summary_dict: dict):
  """summary.json; its existence marks the run as finished."""
  _write_json(os.path.join(workdir, 'summary.json'), summary_dict)


def write_history(workdir: str, history: list[dict]):
  """history.json: one record per epoch so far (phase, depth, loss, validation accuracy)."""
  _write_json(os.path.join(workdir, 'history.json'), history)


def depth_table_text(s: dict) -> str:
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
  return '\n'.join(lines)
