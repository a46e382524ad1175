"""plots/*.png of a finished run: accuracy per epoch and against depth, size, early exits."""

import io

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
  fig, ax = plt.subplots(figsize=(8, 4))
  epochs = [h['epoch'] for h in history]
  ax.plot(epochs, [h['val_accuracy'] for h in history], marker='.', label='validation accuracy')
  for prev, cur in zip(history, history[1:]):
    if (prev['phase'], prev['depth']) != (cur['phase'], cur['depth']):
      ax.axvline(cur['epoch'] - 0.5, color='grey', lw=0.8, ls=':')
      # Labels along the top edge, clear of the curve's start and of the legend.
      ax.annotate(f'{cur["phase"]} d={cur["depth"]}', (cur['epoch'] - 0.5, 0.98),
                  xycoords=('data', 'axes fraction'), rotation=90, fontsize=7, va='top',
                  ha='right')
  for phase, color in ((search.WARMUP, 'tab:grey'), (search.FINETUNE, 'tab:green')):
    marked = [h['epoch'] for h in history if h['phase'] == phase]
    if marked:
      ax.axvspan(min(marked) - 0.5, max(marked) + 0.5, color=color, alpha=0.1,
                 label=phase.replace('finetune', 'fine-tune'))
  goal = summary_dict['target_accuracy'] - summary_dict['tolerance']
  ax.axhline(summary_dict['target_accuracy'], color='tab:red', lw=1, label='target')
  ax.axhline(goal, color='tab:red', lw=1, ls='--', label='target - tolerance')
  ax.set(xlabel='epoch', ylabel='accuracy (%)', title='Validation accuracy per epoch')
  ax.legend(fontsize=8, loc='lower right')
  save(fig, 'val_accuracy.png')

  # Best validation accuracy against depth (and the warm-up profile).
  fig, ax = plt.subplots(figsize=(6, 4))
  rows = summary_dict['per_depth']
  ax.plot([r['depth'] for r in rows], [r['best_val_accuracy'] for r in rows], 'o-',
          label='best after training at that depth')
  if summary_dict.get('warmup_profile'):
    profile = summary_dict['warmup_profile']
    ax.plot(range(1, len(profile) + 1), profile, 's--', alpha=0.6, label='after warm-up')
  ax.axvline(optimal, color='tab:green', ls=':', label=f'optimal depth {optimal}')
  ax.axhline(goal, color='tab:red', lw=1, ls='--', label='target - tolerance')
  ax.set(xlabel='depth', ylabel='validation accuracy (%)', title='Accuracy against depth')
  ax.legend(fontsize=8)
  save(fig, 'accuracy_vs_depth.png')

  # Parameters, memory and FLOPs against depth.
  fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
  depths = [r['depth'] for r in sizes]
  for ax, key, label in zip(axes, ('params', 'bytes', 'flops'),
                            ('parameters', 'memory (bytes)', 'FLOPs per example')):
    ax.plot(depths, [r[key] for r in sizes], 'o-')
    ax.axvline(optimal, color='tab:green', ls=':', label=f'optimal depth {optimal}')
    ax.set(xlabel='depth', ylabel=label, yscale='log')
  axes[0].legend(fontsize=8)
  fig.suptitle(f'Size against depth ({summary_dict["memory_reduction_pct"]:.2f}% smaller '
               'at the optimal depth)')
  save(fig, 'size_vs_depth.png')

  if early_exit_rows:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r['mean_flops'] / 1e6 for r in early_exit_rows],
            [r['accuracy'] for r in early_exit_rows], 'o-')
    shown = set()
    for r in early_exit_rows:  # one label per distinct point: the lowest threshold there
      point = (round(r['mean_flops'] / 1e6, 3), round(r['accuracy'], 2))
      if point not in shown:
        shown.add(point)
        ax.annotate(f'{r["threshold"]:g}', (r['mean_flops'] / 1e6, r['accuracy']), fontsize=7,
                    xytext=(3, -9), textcoords='offset points')
    last = early_exit_rows[-1]
    ax.axhline(last['accuracy'], color='grey', lw=0.8, ls=':',
               label=f'no early exit (depth {optimal})')
    ax.legend(fontsize=8, loc='lower right')
    ax.set(xlabel='mean MFLOPs per example', ylabel='test accuracy (%)',
           title='Early exit: accuracy against compute (labels: threshold)')
    save(fig, 'early_exit.png')
  return written
