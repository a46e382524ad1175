"""plots/*.png of a finished run: accuracy per epoch and against depth, size, early exits."""

import io
import math

from odn_jax import search
from odn_jax.run import workdir as workdir_lib


def write_plots(workdir, summary_dict: dict, history: list[dict], sizes: list[dict],
           early_exit_rows: list[dict] | None) -> list:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  folder = workdir_lib.file(workdir, workdir_lib.PLOTS)
  folder.mkdir(parents=True, exist_ok=True)
  optimal = summary_dict['optimal_depth']
  written = []

  def save(fig, name):
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format='png')
    plt.close(fig)
    workdir_lib.write_bytes(folder / name, buffer.getvalue())
    written.append(folder / name)

  # Validation accuracy per epoch, depth changes and fine-tuning marked, target drawn.
  fig, ax = plt.subplots(figsize=(9, 4))
  epochs = [h['epoch'] for h in history]
  ax.plot(epochs, [h['val_accuracy'] for h in history], marker='.', label='validation accuracy')
  changes = []  # (epoch boundary, depth) where the depth trained changes
  for prev, cur in zip(history, history[1:]):
    if (prev['phase'], prev['depth']) != (cur['phase'], cur['depth']):
      ax.axvline(cur['epoch'] - 0.5, color='grey', lw=0.8, ls=':')
      if prev['depth'] != cur['depth'] or prev['phase'] == search.WARMUP:
        changes.append((cur['epoch'] - 0.5, cur['depth']))
  # The depths on a top axis, clear of the curve and of the target lines; labels closer
  # than a label's width are thinned (the dotted lines still mark every change).
  top = ax.secondary_xaxis('top')
  shown = thin(changes, min(epochs), max(epochs), 0.04)
  top.set_xticks([x for x, _ in shown], [f'd={d}' for _, d in shown], fontsize=7)
  top.tick_params(length=2, pad=1)
  top.set_xlabel('depth trained from here', fontsize=8)
  for phase, color in ((search.WARMUP, 'tab:grey'), (search.FINETUNE, 'tab:green')):
    marked = [h['epoch'] for h in history if h['phase'] == phase]
    if marked:
      ax.axvspan(min(marked) - 0.5, max(marked) + 0.5, color=color, alpha=0.1,
                 label=phase.replace('finetune', 'fine-tune').replace('warmup', 'warm-up'))
  goal = summary_dict['target_accuracy'] - summary_dict['tolerance']
  ax.axhline(summary_dict['target_accuracy'], color='tab:red', lw=1, label='target')
  ax.axhline(goal, color='tab:red', lw=1, ls='--', label='target - tolerance')
  ax.set(xlabel='epoch', ylabel='validation accuracy (%)')
  ax.set_title('Validation accuracy per epoch', fontsize=11)
  ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1.0))
  save(fig, 'val_accuracy.png')

  # Best validation accuracy against depth (and the warm-up profile).
  fig, ax = plt.subplots(figsize=(8, 4))
  rows = summary_dict['per_depth']
  ax.plot([r['depth'] for r in rows], [r['best_val_accuracy'] for r in rows], 'o-',
          label='best after training at that depth')
  if summary_dict.get('warmup_profile'):
    profile = summary_dict['warmup_profile']
    ax.plot(range(1, len(profile) + 1), profile, 's--', alpha=0.6, label='after warm-up')
  ax.axvline(optimal, color='tab:green', ls=':', label=f'optimal depth {optimal}')
  ax.axhline(goal, color='tab:red', lw=1, ls='--', label='target - tolerance')
  ax.set(xlabel='depth', ylabel='validation accuracy (%)', title='Accuracy against depth')
  ax.xaxis.set_major_locator(integer_ticks(plt))
  # Outside the axes: clear of the curves and of the goal's line, wherever they lie.
  ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1.0))
  save(fig, 'accuracy_vs_depth.png')

  # Parameters and FLOPs against depth (bytes follow the parameters: given at the optimum).
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
  depths = [r['depth'] for r in sizes]
  at_optimal = next(r for r in sizes if r['depth'] == optimal)
  full = sizes[-1]
  for ax, values, label, scale, text in (
      (axes[0], [r['params'] for r in sizes], 'parameters', 'log',
       f'depth {optimal}: {at_optimal["params"]:,} params, {at_optimal["bytes"]:,} bytes\n'
       f'full network: {full["params"]:,} params'),
      (axes[1], [r['flops'] / 1e6 for r in sizes], 'MFLOPs per example', 'linear',
       f'depth {optimal}: {at_optimal["flops"] / 1e6:,.2f} MFLOPs\n'
       f'full network: {full["flops"] / 1e6:,.2f} MFLOPs')):
    ax.plot(depths, values, 'o-')
    ax.axvline(optimal, color='tab:green', ls=':', label=f'optimal depth {optimal}')
    ax.plot([optimal], [values[depths.index(optimal)]], 'o', color='tab:green')
    ax.text(0.97, 0.04, text, transform=ax.transAxes, ha='right', va='bottom', fontsize=8,
            bbox={'facecolor': 'white', 'edgecolor': 'lightgrey', 'alpha': 0.9})
    ax.set(xlabel='depth', ylabel=label, yscale=scale)
    ax.xaxis.set_major_locator(integer_ticks(plt))
  axes[0].legend(fontsize=8, loc='upper left')
  fig.suptitle(f'Size against depth ({summary_dict["memory_reduction_pct"]:.2f}% fewer '
               'parameters at the optimal depth)')
  save(fig, 'size_vs_depth.png')

  if early_exit_rows:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    x = [r['mean_flops'] / 1e6 for r in early_exit_rows]
    y = [r['accuracy'] for r in early_exit_rows]
    ax.plot(x, y, 'o-')
    # One label per cluster of points too close to label apart: its range of thresholds.
    for i, (lo, hi, px, py) in enumerate(threshold_labels(early_exit_rows, x, y)):
      ax.annotate(f'{lo:g}' if lo == hi else f'{lo:g}–{hi:g}', (px, py), fontsize=7,
                  xytext=(0, 7 if i % 2 else -11), textcoords='offset points', ha='center')
    last = early_exit_rows[-1]
    ax.axhline(last['accuracy'], color='grey', lw=0.8, ls=':',
               label=f'no early exit (depth {optimal})')
    ax.margins(x=0.08, y=0.1)
    ax.legend(fontsize=8, loc='lower right')
    ax.set(xlabel='mean MFLOPs per example', ylabel='test accuracy (%)',
           title='Early exit: accuracy against compute (labels: threshold)')
    save(fig, 'early_exit.png')
  return written


def integer_ticks(plt):
  return plt.MaxNLocator(integer=True)


def thin(marks: list, lo: float, hi: float, min_gap: float) -> list:
  """`marks` [(x, label)], keeping each one only if it is `min_gap` of the range lo..hi
  after the last one kept."""
  kept, span = [], max(hi - lo, 1e-9)
  for x, label in marks:
    if not kept or (x - kept[-1][0]) / span >= min_gap:
      kept.append((x, label))
  return kept


def threshold_labels(rows: list[dict], x: list, y: list, min_gap: float = 0.07) -> list:
  """(lowest, highest threshold, x, y) per cluster of consecutive points closer than
  `min_gap` of the axes' ranges: labels that would print over each other become one."""
  sx, sy = max(max(x) - min(x), 1e-9), max(max(y) - min(y), 1e-9)
  clusters = []
  for r, px, py in zip(rows, x, y):
    if clusters and math.hypot((px - clusters[-1][2]) / sx, (py - clusters[-1][3]) / sy) < min_gap:
      clusters[-1][1] = r['threshold']
    else:
      clusters.append([r['threshold'], r['threshold'], px, py])
  return [tuple(c) for c in clusters]
