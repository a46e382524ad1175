"""What a run reports: history.json every epoch, TensorBoard scalars, and at the end
summary.json, report.md with its plots, and the table of every depth tried."""

import io
import json
import os
import socket
import time

from absl import logging
import jax

from odn_jax import model_card, models, search, size, speed, workdir as workdir_lib
from odn_jax.data import checks
from odn_jax.models import ResNet


def kept_val_accuracy(history, tried: dict, depth: int) -> float:
  """Validation accuracy of the weights extracted at `depth`: those the controller kept for
  it, or the warm-up's last epoch when the search ended before any depth trained."""
  if depth in tried:
    return tried[depth]['best_val_accuracy']
  return history[-1]['val_accuracy_per_head'][depth - 1]


def summary(config, model, ds, history, plan, test_accuracy: float, wall_clock_s: float) -> dict:
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
  return {
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
      **measured,
  }


def compile_share(history) -> list[dict]:
  """Per phase and depth: seconds of its epochs and of compiling inside them."""
  rows = {}
  for h in history:
    if 'seconds' not in h:  # histories written before epochs were timed
      continue
    row = rows.setdefault((h['phase'], h['depth']), {'phase': h['phase'], 'depth': h['depth'],
                                                     'epochs_s': 0.0, 'compile_s': 0.0})
    row['epochs_s'] += h['seconds']
    row['compile_s'] += h['compile_s']
  return [{**row, 'epochs_s': round(row['epochs_s'], 2), 'compile_s': round(row['compile_s'], 2),
           'compile_pct': round(100 * row['compile_s'] / max(row['epochs_s'], 1e-9), 2)}
          for row in rows.values()]


def write_summary(workdir: str, summary_dict: dict):
  """summary.json; its existence marks the run as finished."""
  workdir_lib.write_json(workdir_lib.file(workdir, workdir_lib.SUMMARY), summary_dict)


def write_history(workdir: str, history: list[dict]):
  """history.json: one record per epoch so far (phase, depth, loss, validation accuracy)."""
  workdir_lib.write_json(workdir_lib.file(workdir, workdir_lib.HISTORY), history)


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
  lines += [f'warning: {w}' for w in s.get('warnings', [])]
  return '\n'.join(lines)


def warnings_markdown(s: dict) -> list[str]:
  """report.md's Warnings section, when the run had any."""
  if not s.get('warnings'):
    return []
  return ['', '## Warnings', ''] + [f'- **{w}**' for w in s['warnings']]


def _plots(workdir, summary_dict: dict, history: list[dict], sizes: list[dict],
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


def throughput_markdown(s: dict) -> list[str]:
  """report.md's measured inference speed of the subnet against the full network."""
  t = s.get('throughput')
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


def write_report(workdir: str, s: dict, history: list[dict], model: ResNet) -> str:
  """report.md and plots/*.png of a finished run: its summary, its history, its network;
  and optimal/README.md, the extracted subnet's model card.

  Written by process 0 only (every process of a multi-host run calls it)."""
  path = workdir_lib.file(workdir, workdir_lib.REPORT)
  if not workdir_lib.is_writer():
    return path
  info = workdir_lib.read_json_if_exists(workdir_lib.model_info_path(workdir))
  if info is not None:
    workdir_lib.write_text(workdir_lib.model_card_path(workdir),
                           model_card.text(s, info, workdir))
  sizes = size.depth_table(model, s['input_shape'])
  # Early exits whose heads were not trained on the final trunk are stale: not reported.
  early_exit_rows = s.get('early_exit') if s.get('early_exit_epochs') else None
  plots = _plots(workdir, s, history, sizes, early_exit_rows)
  lines = [
      f'# Optimal depth of {s["arch"]} on {s["dataset"]}', '',
      f'**Optimal depth: {s["optimal_depth"]} of {s["max_depth"]}** — validation '
      f'{s["val_accuracy"]:.2f}%, test {s["test_accuracy"]:.2f}% (target '
      f'{s["target_accuracy"]:g}% ± {s["tolerance"]:g}), {s["params_optimal"]:,} of '
      f'{s["params_full"]:,} parameters ({s["memory_reduction_pct"]:.2f}% smaller), '
      f'{s["flops_optimal"] / 1e6:.1f} of {s["flops_full"] / 1e6:.1f} MFLOPs per example.', '',
      f'Search: schedule `{s.get("schedule", "paper")}`, mode `{s.get("search_mode", "target")}`, '
      f'{s["epochs_total"]} epochs '
      f'({s.get("warmup_epochs", 0)} of warm-up), {s["wall_clock_s"]:.0f} s on '
      f'{s["num_devices"]} device(s)'
      + (f' in {s["num_processes"]} processes' if s.get('num_processes', 1) > 1 else '')
      + f', seed {s["seed"]}. Stopped because: {s["stop_reason"]}.',
      *warnings_markdown(s),
      '', '| depth | epochs | best val. acc. | params | bytes | MFLOPs | memory reduction | '
      'left because |', '|---|---|---|---|---|---|---|---|']
  for r in s['per_depth']:
    mark = ' **(optimal)**' if r['depth'] == s['optimal_depth'] else ''
    lines.append(f'| {r["depth"]}{mark} | {r["epochs"]} | {r["best_val_accuracy"]:.2f}% | '
                 f'{r["params"]:,} | {r["bytes"]:,} | {r["flops"] / 1e6:.1f} | '
                 f'{r["memory_reduction_pct"]:.2f}% | {r.get("left_because", "")} |')
  if s.get('compile'):
    lines += ['', '## Compilation', '', '| phase | depth | epochs (s) | compiling (s) | share |',
              '|---|---|---|---|---|']
    lines += [f'| {r["phase"]} | {r["depth"]} | {r["epochs_s"]:.1f} | {r["compile_s"]:.2f} | '
              f'{r["compile_pct"]:.1f}% |' for r in s['compile']]
  lines += throughput_markdown(s)
  if early_exit_rows:
    lines += ['', '## Early exit (test split)', '',
              f'Heads 1..{s["optimal_depth"] - 1} trained {s["early_exit_epochs"]} more epochs '
              'after the search on the final trunk, frozen: the blocks and head '
              f'{s["optimal_depth"]} are those measured above.', '',
              '| threshold | accuracy | MFLOPs / example | exits per head |', '|---|---|---|---|']
    lines += [f'| {r["threshold"]:.2f} | {r["accuracy"]:.2f}% | {r["mean_flops"] / 1e6:.2f} | '
              f'{r["exits_per_head"]} |' for r in early_exit_rows]
  lines += ['', '## Plots', ''] + [f'![{p.name}](plots/{p.name})' for p in plots]
  workdir_lib.write_text(path, '\n'.join(lines) + '\n')
  return path


def write_report_of(workdir: str) -> str:
  """`write_report` of a finished workdir, from what it holds on disk."""
  s = workdir_lib.load_summary(workdir)
  config = workdir_lib.load_config(workdir)
  if 'input_shape' not in s:  # summaries written before it was recorded
    info = workdir_lib.read_json(workdir_lib.model_info_path(workdir))
    s = {**s, 'input_shape': info['input_shape']}
  model = models.from_config(config, config.data.num_classes)
  return write_report(workdir, s, workdir_lib.load_history(workdir), model)


class EventFile:
  """A growing events file: appended to where local (TensorBoard follows the open file);
  elsewhere (gs://...), where objects cannot be appended to, rewritten whole at each flush
  (TensorBoard reads such files again; an epoch's records are a few hundred bytes)."""

  def __init__(self, target):
    self._target = target
    self._remote = workdir_lib.is_remote(target)
    self._buffer = io.BytesIO()
    self._local = None if self._remote else target.open('ab')

  def write(self, blob: bytes):
    (self._buffer if self._remote else self._local).write(blob)

  def flush(self):
    if self._remote:
      self._target.write_bytes(self._buffer.getvalue())
    else:
      self._local.flush()

  def close(self):
    self.flush()
    if self._local is not None:
      self._local.close()


def hparam_value(value):
  """A config value as TensorBoard's hparams take it: bool, number or text."""
  if isinstance(value, (bool, int, float, str)):
    return value
  return str(list(value) if isinstance(value, tuple) else value)


class MetricWriter:
  """Per-epoch scalars, steps/s, and the run's config (as text and as TensorBoard's
  hyperparameters) as TensorBoard event files under DIR/tensorboard.

  The records are written straight to the file with TensorBoard's own record format
  and protos: clu's SummaryWriter, and TensorBoard's `summary.Writer` too, go through
  TensorFlow's file API and so import TensorFlow into every training run (4 s and 540 MB
  of memory on the development machines, against 0.1 s here) for the same few bytes. Only process 0 writes; without the `tensorboard`
  package the run goes on and says once that it writes no event files.
  """

  def __init__(self, workdir: str, config: dict | None = None):
    """`config`: the run's config as a JSON dict (`json.loads(config.to_json())`)."""
    self._file = None
    if jax.process_index() > 0:
      return
    try:  # pylint: disable=g-import-not-at-top
      from tensorboard.compat.proto import event_pb2, summary_pb2
      from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError:
      logging.warning('the tensorboard package is not installed: no TensorBoard event files '
                      '(pip install tensorboard)')
      return
    self._event, self._summary = event_pb2.Event, summary_pb2.Summary
    self._workdir = workdir
    folder = workdir_lib.file(workdir, workdir_lib.TENSORBOARD)
    folder.mkdir(parents=True, exist_ok=True)
    # TensorBoard reads every file whose name contains 'tfevents'; a resumed run adds one.
    name = f'events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}'
    self._file = EventFile(folder / name)
    self._records = RecordWriter(self._file)
    self._write(self._event(wall_time=time.time(), file_version='brain.Event:2'))
    if config is not None:
      self.write_config(config)

  def _write(self, event):
    self._records.write(event.SerializeToString())

  def write_scalars(self, step: int, scalars: dict):
    """As clu's MetricWriter.write_scalars; flushed at once."""
    if self._file is None:
      return
    values = [self._summary.Value(tag=tag, simple_value=float(value))
              for tag, value in scalars.items()]
    self._write(self._event(wall_time=time.time(), step=int(step),
                            summary=self._summary(value=values)))
    self._file.flush()

  def write_config(self, config: dict):
    """The flattened config: a text summary 'config' (one table row per dotted key), and
    TensorBoard's hparams (HPARAMS tab) with the validation accuracy as their metric."""
    if self._file is None:
      return
    from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2  # pylint: disable=g-import-not-at-top
    from tensorboard.plugins.hparams import summary_v2 as hparams  # pylint: disable=g-import-not-at-top
    from tensorboard.plugins.text import metadata as text_metadata  # pylint: disable=g-import-not-at-top
    flat = workdir_lib.flatten(config)
    table = '\n'.join(['| key | value |', '|---|---|']
                      + [f'| {k} | `{json.dumps(v)}` |' for k, v in sorted(flat.items())])
    text = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[table.encode()],
                                  tensor_shape=tensor_shape_pb2.TensorShapeProto())
    summaries = [
        self._summary(value=[self._summary.Value(
            tag='config', tensor=text,
            metadata=text_metadata.create_summary_metadata('config', 'the run\'s config'))]),
        hparams.hparams_config_pb(
            [hparams.HParam(k) for k in sorted(flat)],
            [hparams.Metric('val_accuracy', display_name='validation accuracy (%)')]),
        hparams.hparams_pb({k: hparam_value(v) for k, v in flat.items()},
                           trial_id=workdir_lib.path(self._workdir).name)]
    for summary_proto in summaries:
      self._write(self._event(wall_time=time.time(), step=0, summary=summary_proto))
    self._file.flush()

  def write_epoch(self, record: dict):
    """One history.json record, at step = its epoch number."""
    scalars = {'val_accuracy': record['val_accuracy'], 'loss': record['loss'],
               'learning_rate': record['learning_rate'], 'depth': record['depth']}
    per_head = record['val_accuracy_per_head']
    if len(per_head) > 1:  # the warm-up evaluates every head
      scalars.update({f'val_accuracy_head_{d:02d}': a for d, a in enumerate(per_head, 1)})
    if record.get('steps') and record.get('seconds'):  # the epoch's wall clock, validation in
      scalars['steps_per_s'] = record['steps'] / record['seconds']
    self.write_scalars(record['epoch'], scalars)

  def close(self):
    if self._file is not None:
      self._file.close()
      self._file = None
