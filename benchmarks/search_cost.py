r"""The whole search under named schedules, on the same data, over several seeds.

  paper : the config as the notebooks run it (the paper configs' defaults);
  fast  : odn_jax's schedule (`odn_jax.config.defaults.with_schedule(config, 'fast')`);
  full  : no search: the full-depth network trained by the paper's rules to convergence,
          what a user would do instead (`search.start='deepest'`, no warm-up).
`--override=KEY=VALUE` changes a key of every schedule after it is applied (a lever of the
fast schedule is measured with `--schedules=fast --override=...`).

  python benchmarks/search_cost.py --config=configs/quickstart.py \
      --config.search.max_epochs_per_depth=0 --config.search.max_epochs_total=0 \
      --config.search.patience=23 --config.search.plateau_patience=5 \
      --seeds=0,1,2 --workdir=/tmp/search_cost_digits

Reports, per schedule and seed: epochs, wall-clock, training FLOPs (3x the forward FLOPs of
what each step runs, per example, plus the forward passes that recompute BatchNorm
statistics), optimal depth and test accuracy; then mean and range per schedule, and
fast / paper ratios.

`--parallel_depths=1,2,4` races the depths on K slots (`config.search.parallel_depths`), one
device per slot (`--devices_per_slot`): on CPU each K runs in a child process with
`--xla_force_host_platform_device_count=K x devices_per_slot`, so K = 1 is the sequential
search on one device, bit for bit the runs above. Per schedule, seed and K it adds the
critical path (rounds of epochs after warm-up), the epochs and FLOPs of every depth trained
(speculative ones included), each against the sequential paper search of the seed, the same
schedule's sequential run replayed as a race (`race_replay`: the list schedule of its own
per-depth runs; it must equal the real race), whether the answer (depth, test accuracy) is the
same, and a *simulated* wall-clock on K real devices: each depth's epoch time measured alone
(the median of the sequential runs' epochs at that depth, compile left out; a depth no
sequential run trained is scaled from the deepest measured one by FLOPs), each round as long
as its slowest slot's epoch. The forced CPU devices share the machine's cores, so the real
races' wall-clock says nothing about K devices; their epochs and FLOPs do.
`--sequential_from_paper` trains K = 1 of the paper schedule only and replays the other
schedules' sequential runs from its history; `--replay_only` trains K = 1 only;
`--raced_schedules=fast` trains the races of those schedules only (the others are replayed).
"""

import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile

from absl import app, flags, logging
import jax
from ml_collections import config_flags
import numpy as np

from odn_jax import data, models, search
from odn_jax.config import defaults
from odn_jax.models import size
from odn_jax.results.cost import training_flops  # the one definition of an epoch's FLOPs
from odn_jax.run import record_files
from odn_jax.search import race as race_lib
from odn_jax.train import loop as trainer

import race_replay  # benchmarks/: the race's replay and its measures

SCHEDULES = ('paper', 'fast', 'full')

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/fashion_mnist.py', 'Base config.')
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/odn_search_cost', 'A subfolder per run.')
_SCHEDULES = flags.DEFINE_list('schedules', ['paper', 'fast'], f'Of {SCHEDULES}.')
_SEEDS = flags.DEFINE_list('seeds', ['0'], 'Seeds (initialisation and batch order).')
_OVERRIDE = flags.DEFINE_multi_string('override', [], 'KEY=VALUE for every schedule.')
_PARALLEL = flags.DEFINE_list('parallel_depths', ['1'], 'Slots K (search.parallel_depths).')
_PER_SLOT = flags.DEFINE_integer('devices_per_slot', 1, 'Forced CPU devices per slot.')
_ROWS_OUT = flags.DEFINE_string('rows_out', None, 'Internal: a child writes its rows here.')
_REPLAY_ONLY = flags.DEFINE_bool('replay_only', False, 'Train K = 1 only; replay every K.')
_RACED = flags.DEFINE_list('raced_schedules', [], 'Schedules whose races K > 1 are trained '
                           '(default: all); the others are replayed.')
_SEQ_FROM_PAPER = flags.DEFINE_bool(
    'sequential_from_paper', False, 'Train K = 1 of the paper schedule only; replay the '
    "others' sequential runs from its history (their raced ones are still trained).")


def schedule(base, name: str, seed: int, slots: int = 1):
  config = base.copy_and_resolve_references()
  config.seed = seed
  if slots > 1:
    config.search.parallel_depths = slots
  if name == 'fast':
    defaults.with_schedule(config, 'fast')
  elif name == 'full':
    config.search.start = 'deepest'
    config.warmup.epochs = 0
  elif name != 'paper':
    raise app.UsageError(f'--schedules: {name!r} is not one of {SCHEDULES}')
  values = {}
  for item in _OVERRIDE.value:
    key, sep, value = item.partition('=')
    if not sep:
      raise app.UsageError(f'--override={item}: expected KEY=VALUE')
    try:
      values[key] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      values[key] = value  # a bare string such as grow.init=trained
  config.update_from_flattened_dict(values)
  return config


def epoch_seconds(history) -> dict[int, float]:
  """Each depth's epoch time in a sequential run: the median over its epochs, compile out."""
  times = {}
  for record in history:
    if record['phase'] != search.WARMUP and 'seconds' in record:
      times.setdefault(record['depth'], []).append(record['seconds'] - record['compile_s'])
  return {d: statistics.median(t) for d, t in times.items()}


def run(config, workdir, forward, ds) -> dict:
  summary = trainer.train_and_evaluate(config, workdir, quiet=True)
  history = record_files.load_history(workdir)
  slots = config.search.get('parallel_depths', 1)
  rounds = [r['round'] for r in history if 'round' in r]
  if slots > 1 and not rounds:
    raise SystemExit(f'{workdir}: the run did not race {slots} depths (no record has a '
                     'round): this version trains depths one at a time')
  after_warmup = sum(r['phase'] != search.WARMUP for r in history)
  return {'K': slots, 'epochs': summary['epochs_total'], 'epochs_after_warmup': after_warmup,
          'critical_path': summary.get('critical_path_epochs',
                                       max(rounds) if rounds else after_warmup),
          'wall_clock_s': summary['wall_clock_s'],
          'training_tflops': training_flops(history, config, forward,
                                            ds.num_examples['train']) / 1e12,
          'optimal_depth': summary['optimal_depth'], 'test_accuracy': summary['test_accuracy'],
          'val_accuracy': summary['val_accuracy'],
          'epochs_by_depth': {r['depth']: r['epochs'] for r in summary['per_depth']},
          'epoch_s': epoch_seconds(history) if slots == 1 else {},
          'workdir': workdir, 'warmup_s': sum(
              r.get('seconds', 0) for r in history if r['phase'] == search.WARMUP)}


def workdir_of(name, seed, slots):
  return os.path.join(_WORKDIR.value, f'{name}_seed{seed}' + (f'_k{slots}' if slots > 1 else ''))


def in_child(slots: int) -> list[dict]:
  """Every schedule and seed raced on `slots` slots, in a process of slots x devices_per_slot
  forced CPU devices (XLA fixes the device count when it starts)."""
  devices = slots * _PER_SLOT.value
  args = [a for a in sys.argv[1:] if not a.startswith(('--parallel_depths', '--rows_out'))]
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS=' '.join(
      [f for f in os.environ.get('XLA_FLAGS', '').split()
       if not f.startswith('--xla_force_host_platform_device_count')]
      + [f'--xla_force_host_platform_device_count={devices}']))
  with tempfile.NamedTemporaryFile('r', suffix='.json') as out:
    subprocess.run([sys.executable, os.path.abspath(__file__), *args,
                    f'--parallel_depths={slots}', f'--rows_out={out.name}'], env=env, check=True)
    return json.load(out)


def spread(rows, key):
  values = np.array([r[key] for r in rows], np.float64)
  return {'mean': round(float(values.mean()), 3), 'min': round(float(values.min()), 3),
          'max': round(float(values.max()), 3)}


def per_epoch_cost(config, forward, examples) -> dict[int, float]:
  """FLOPs of one epoch at each depth (`training_flops` of a single record)."""
  return {d: training_flops([{'phase': search.GROW, 'depth': d}], config, forward, examples)
          for d in range(1, len(forward) + 1)}


def epoch_times(rows, forward) -> dict[int, float]:
  """Each depth's epoch time alone: the median over the sequential runs; a depth none of
  them trained is scaled from the deepest measured one by its forward FLOPs."""
  measured = {}
  for row in rows:
    for depth, seconds in row['epoch_s'].items():
      measured.setdefault(int(depth), []).append(seconds)
  times = {d: statistics.median(t) for d, t in measured.items()}
  deepest = max(times)
  for depth in range(deepest + 1, len(forward) + 1):
    times[depth] = times[deepest] * forward[depth - 1] / forward[deepest - 1]
  return times


def sequential_scripts(base, name, seed, seq):
  """The sequential run of `name` as per-depth scripts (`race.scripts_from_history`), with
  the first and deepest depth: from its own history, or, where it was not trained
  (`--sequential_from_paper`), from the paper's, each depth's curve replayed through its
  rules (it trains each depth as the paper does until it leaves it)."""
  paper_history = record_files.load_history(seq[('paper', seed)]['workdir'])
  warmup = [r for r in paper_history if r['phase'] == search.WARMUP]
  first, limit = race_lib.first_depth(schedule(base, 'paper', seed), warmup)
  config = schedule(base, name, seed)
  if (name, seed) in seq:
    history = record_files.load_history(seq[(name, seed)]['workdir'])
  else:
    grown = [r for r in paper_history if r['phase'] != search.WARMUP]
    log = {'depths': [r['depth'] for r in grown], 'val_correct': [r['val_correct'] for r in grown],
           'val_total': grown[0]['val_count']}
    config.warmup.epochs = 0
    history = race_replay.replayed_history(log, config)
  return race_lib.scripts_from_history(history, config), first, limit, warmup


def race_report(base, rows, forward, examples, slots_list) -> list[str]:
  """Per schedule, seed and K: the race (real where run, else replayed) against the
  sequential paper search of the seed; markdown lines."""
  seq = {(r['schedule'], r['seed']): r for r in rows if r['K'] == 1}
  times = epoch_times(seq.values(), forward)
  lines = ['| schedule | seed | K | critical path: real (replayed) | epochs: real (replayed) | '
           'training FLOPs | CP x paper epochs | FLOPs x paper | device-time x paper | '
           'simulated wall-clock x paper | depth | test acc. | same answer |', '|' + '---|' * 13]
  for seed in sorted({s for _, s in seq}):
    paper = seq[('paper', seed)]
    paper_scripts, first, limit, warmup = sequential_scripts(base, 'paper', seed, seq)
    paper_race = race_lib.simulate(paper_scripts, first, limit, 1)
    paper_s = paper['warmup_s'] + race_replay.weighted(paper_race, times)
    for name in _SCHEDULES.value:
      config = schedule(base, name, seed)
      scripts = sequential_scripts(base, name, seed, seq)[0]
      cost = per_epoch_cost(config, forward, examples)
      warmup_tflops = training_flops(warmup, config, forward, examples) / 1e12
      real = {r['K']: r for r in rows if (r['schedule'], r['seed']) == (name, seed)}
      for k in slots_list:
        race = race_lib.simulate(scripts, first, limit, k,
                                 schedule(base, name, seed, k).search.get('race_lookahead'))
        r = real.get(k)
        epochs = sum(run.epochs for run in race.runs.values())
        tflops = warmup_tflops + race_replay.weighted(race, cost) / 1e12
        if r is not None:  # trained: its figures, the replay beside them
          cp = f"{r['critical_path']} ({race.rounds})"
          epochs_text = f"{r['epochs_after_warmup']} ({epochs})"
          tflops, cp_value = r['training_tflops'], r['critical_path']
          depth, test = r['optimal_depth'], r['test_accuracy']
          same = depth == paper['optimal_depth'] and (
              (name, seed) not in seq or test == seq[(name, seed)]['test_accuracy'])
        else:
          cp, epochs_text, cp_value = f'- ({race.rounds})', f'- ({epochs})', race.rounds
          depth, test, same = race.answer, None, race.answer == paper['optimal_depth']
        wall = paper['warmup_s'] + race_replay.simulated_seconds(race, times)
        lines.append(
            f"| {name} | {seed} | {k} | {cp} | {epochs_text} | {tflops:.3f} TFLOP | "
            f"{cp_value / paper_race.rounds:.2f} | {tflops / paper['training_tflops']:.2f} | "
            f"{k * cp_value / paper_race.rounds:.2f} | {wall / paper_s:.2f} | {depth} | "
            f"{'' if test is None else f'{test:.2f} %'} | {'yes' if same else 'no'} |")
  return lines


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # Orbax logs every checkpoint at INFO
  base = _CONFIG.value
  ds = data.load(base)
  model = models.from_config(base, ds.num_classes)
  forward = [size.forward_flops(model, ds.input_shape, d) for d in range(1, model.max_depth + 1)]
  slots_list = [int(k) for k in _PARALLEL.value]
  trained = [1] if _REPLAY_ONLY.value else slots_list
  rows = []
  for slots in trained:
    if (_ROWS_OUT.value is None and jax.default_backend() == 'cpu'
        and jax.device_count() != slots * _PER_SLOT.value):
      rows += in_child(slots)
      continue
    for name in _SCHEDULES.value:
      if (slots == 1 and name != 'paper' and _SEQ_FROM_PAPER.value
          or slots > 1 and name not in (_RACED.value or [name])):
        continue
      for seed in map(int, _SEEDS.value):
        row = {'schedule': name, 'seed': seed, **run(schedule(base, name, seed, slots),
                                                     workdir_of(name, seed, slots), forward, ds)}
        print(json.dumps(row), flush=True)
        rows.append(row)
  if _ROWS_OUT.value:
    with open(_ROWS_OUT.value, 'w') as f:
      json.dump(rows, f)
    return
  results = {}
  for name in _SCHEDULES.value:
    runs = [r for r in rows if r['schedule'] == name and r['K'] == 1]
    if runs:
      results[name] = {k: spread(runs, k) for k in (
          'epochs', 'wall_clock_s', 'training_tflops', 'optimal_depth', 'test_accuracy')}
  if {'paper', 'fast'} <= set(results):
    paper, fast = results['paper'], results['fast']
    results['fast_over_paper'] = {
        'wall_clock': round(fast['wall_clock_s']['mean'] / paper['wall_clock_s']['mean'], 3),
        'training_flops': round(fast['training_tflops']['mean']
                                / paper['training_tflops']['mean'], 3),
        'test_accuracy_points': round(fast['test_accuracy']['mean']
                                      - paper['test_accuracy']['mean'], 2)}
  print(json.dumps({'dataset': ds.name, 'arch': base.model.arch, 'width': base.model.width,
                    'train_examples': ds.num_examples['train'], **results}, indent=1))
  if slots_list != [1] and 'paper' in _SCHEDULES.value and 1 in trained:
    print('\n'.join(race_report(base, rows, forward, ds.num_examples['train'], slots_list)))


if __name__ == '__main__':
  app.run(main)
