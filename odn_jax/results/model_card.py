"""optimal/README.md: the model card of a run's extracted subnet, from its summary and model.json.

What it is, the data, its accuracy and size against the full network, how to load it, and
how the search found it; what a reader of the folder alone needs.
"""

from odn_jax.models import num_blocks, speed
from odn_jax.run import records, workdir as workdir_lib


def text(s: records.Summary, info: records.ModelInfo, workdir: str) -> str:
  """The card of the subnet summary `s` (summary.json) and `info` (its model.json) describe."""
  depth, max_depth = s.optimal_depth, s.max_depth
  height, width, channels = s.input_shape
  classes = (f'{info.num_classes} classes'
             + (f' ({", ".join(info.class_names)})' if info.class_names else ''))
  lines = [
      f'# {s.arch} at depth {depth} of {max_depth} for {s.dataset}', '',
      f'The optimally deep subnet a search found for `{s.dataset}`: the stem, residual '
      f'blocks 1..{depth} of a {s.arch} of width {s.width} (of {max_depth} blocks '
      f'searched) and the classifier head after block {depth}. It takes {height}x{width}x'
      f'{channels} images with pixels 0..255 (the run\'s normalisation is inside) and gives '
      f'logits of {classes}.', '',
      '## Accuracy', '',
      f'- validation: {s.val_accuracy:.2f}% (target {s.target_accuracy:g}% ± '
      f'{s.tolerance:g})',
      f'- test: {s.test_accuracy:.2f}% (the test split, seen once by this subnet)', '',
      '## Size', '',
      '| | depth | params | MFLOPs / example |', '|---|---|---|---|',
      f'| this subnet | {depth} | {s.params_optimal:,} | {s.flops_optimal / 1e6:.1f} |',
      f'| full network | {num_blocks(s.arch)} | {s.params_full:,} | '
      f'{s.flops_full / 1e6:.1f} |', '',
      f'{s.memory_reduction_pct:.2f}% fewer parameters than the full network.']
  t = s.throughput
  if t:
    lines.append('\nMeasured at the end of the run on ' + t['device'] + ': ' + ', '.join(
        f'{t["optimal"][speed.key(b)]:,.0f} against {t["full"][speed.key(b)]:,.0f} images/s '
        f'at batch {b} ({t["speedup"][speed.key(b)]:.2f}x)' for b in t['batch_sizes']) + '.')
  lines += [
      '', '## Load it', '', '```python', 'import odn_jax',
      f'net = odn_jax.load_subnet({str(workdir_lib.path(workdir))!r})',
      'net.classify(images)  # pixels 0..255, [N, H, W(, C)] or one image -> class names',
      '```', '',
      'or serialise it for jax alone: `odn-export --workdir=... --output=FILE` '
      '(launch/export.py).', '',
      '## How it was found', '',
      f'Schedule `{s.schedule}`, mode `{s.search_mode}`, '
      f'{s.epochs_total} epochs ({s.warmup_epochs} of warm-up), '
      f'{s.wall_clock_s:.0f} s on {s.num_devices} device(s), seed {s.seed}. '
      f'Stopped because: {s.stop_reason}.', '',
      '| depth | epochs | best val. acc. | params | left because |', '|---|---|---|---|---|']
  for r in s.per_depth:
    mark = ' **(this subnet)**' if r['depth'] == depth else ''
    lines.append(f'| {r["depth"]}{mark} | {r["epochs"]} | {r["best_val_accuracy"]:.2f}% | '
                 f'{r["params"]:,} | {r["left_because"]} |')
  lines += ['', 'The whole run: `report.md` and `summary.json` in the workdir.']
  return '\n'.join(lines) + '\n'
