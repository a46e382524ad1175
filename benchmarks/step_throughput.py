r"""Images/s of the train, warm-up and eval steps per depth; JAX, and PyTorch side by side.

  python benchmarks/step_throughput.py --arch=resnet18 --depths=1,2,4,8 --batch_size=128 \
      --framework=both --json

Compile time (the first call) is reported apart from the steady state. The warm-up step
is timed two ways, as `config.warmup.one_pass` runs it: one pass with every head reading
its block (odn_jax), and the reference's one forward/backward per depth, summed. PyTorch runs in the Python given by
--torch_python (its CPU build may exist for another Python than JAX's).
"""

import functools
import json
import os
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from odn_jax import models
from odn_jax.config import defaults
from odn_jax.models import partition
from odn_jax.run import compilation
from odn_jax.train import steps as steps_lib

_ARCH = flags.DEFINE_string('arch', 'resnet18', 'Architecture.')
_DEPTHS = flags.DEFINE_list('depths', ['1', '2', '4', '8'], 'Depths to time.')
_BATCH = flags.DEFINE_integer('batch_size', 128, 'Batch size.')
_INPUT = flags.DEFINE_list('input_shape', ['28', '28', '1'], 'H,W,C.')
_WIDTH = flags.DEFINE_integer('width', 64, 'Base width.')
_DTYPE = flags.DEFINE_enum('dtype', 'float32', ['float32', 'bfloat16'], 'Compute dtype.')
_STEPS = flags.DEFINE_integer('steps', 10, 'Timed steps per round.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Rounds per measurement; the median is reported.')
_FRAMEWORK = flags.DEFINE_enum('framework', 'jax', ['jax', 'torch', 'both'], 'What to time.')
_TORCH_PYTHON = flags.DEFINE_string('torch_python', os.environ.get('TORCH_PYTHON', sys.executable),
                                    'Python with torch installed.')
_JSON = flags.DEFINE_bool('json', False, 'Print JSON only.')
_CACHE = flags.DEFINE_string('compilation_cache_dir', '',
                             "JAX's persistent compilation cache ('' : none); run twice for "
                             'cold and warm compile times.')
_WARMUP = flags.DEFINE_bool('warmup', True, 'Also time the warm-up (one pass and per depth).')


def timed(fn, args, steps):
  """(compile seconds, images/s): the first call compiles (JAX's own compile events, so
  not the step it then runs); then the median over --repeats rounds of `steps` calls, as
  shared CPUs make single rounds noisy."""
  compile_started = compilation.seconds()
  jax.block_until_ready(fn(*args))
  compile_s = compilation.seconds() - compile_started
  rates = []
  for _ in range(_REPEATS.value):
    started = time.perf_counter()
    for _ in range(steps):
      out = fn(*args)
    jax.block_until_ready(out)
    rates.append(_BATCH.value * steps / (time.perf_counter() - started))
  return compile_s, statistics.median(rates)


def jax_rows():
  compilation.enable_cache(_CACHE.value)
  shape = tuple(int(v) for v in _INPUT.value)
  model = models.build(_ARCH.value, 10, _WIDTH.value, _DTYPE.value)
  tx = steps_lib.make_optimizer(defaults.base_config().optim)
  steps = steps_lib.make_steps(model, tx)
  params, state = model.init(jax.random.key(0), shape)
  rng = np.random.default_rng(0)
  batch = {'image': jnp.asarray(rng.normal(size=(_BATCH.value, *shape)), jnp.float32),
           'label': jnp.asarray(rng.integers(0, 10, _BATCH.value), jnp.int32),
           'mask': jnp.ones(_BATCH.value)}
  rows = []
  for depth in (int(d) for d in _DEPTHS.value):
    # The step donates its state: thread the newest one through every call.
    holder = {'ts': steps_lib.create_train_state(tx, partition.prefix(params, depth),
                                                 partition.prefix(state, depth))}

    def train(holder=holder, depth=depth):
      holder['ts'], _ = steps.train(holder['ts'], steps_lib.zero_metrics(), batch, 0.01,
                                    depth=depth)
      return holder['ts'].params

    compile_s, train_ips = timed(train, (), _STEPS.value)
    eval_compile_s, eval_ips = timed(
        functools.partial(steps.eval, depth=depth), (params, state, batch), _STEPS.value)
    rows.append({'depth': depth, 'train_images_per_s': round(train_ips, 1),
                 'train_compile_s': round(compile_s, 2),
                 'eval_images_per_s': round(eval_ips, 1),
                 'eval_compile_s': round(eval_compile_s, 2)})

  result = {'framework': 'jax', 'version': jax.__version__,
            'device': jax.devices()[0].device_kind, 'arch': _ARCH.value,
            'batch_size': _BATCH.value, 'dtype': _DTYPE.value, 'per_depth': rows}
  if not _WARMUP.value:
    return result
  make_full = lambda: steps_lib.create_train_state(
      tx, partition.prefix(params, model.max_depth, 'all'),
      partition.prefix(state, model.max_depth, 'all'))

  def warmup(one_pass):
    holder = {'ts': make_full()}

    def step():
      holder['ts'], _ = steps.warmup(holder['ts'], steps_lib.zero_metrics(model.max_depth),
                                     batch, 0.01, depth=model.max_depth, one_pass=one_pass)
      return holder['ts'].params

    return timed(step, (), max(2, _STEPS.value // 3))

  one_compile, one_ips = warmup(one_pass=True)
  per_compile, per_ips = warmup(one_pass=False)
  return {**result,
          'warmup_one_pass_images_per_s': round(one_ips, 1),
          'warmup_one_pass_compile_s': round(one_compile, 2),
          'warmup_per_depth_images_per_s': round(per_ips, 1),
          'warmup_per_depth_compile_s': round(per_compile, 2),
          'warmup_one_pass_cost_ratio': round(per_ips / one_ips, 3)}


def torch_rows():
  script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch_resnet.py')
  out = subprocess.run([_TORCH_PYTHON.value, script, f'--arch={_ARCH.value}',
                        f'--depths={",".join(_DEPTHS.value)}', f'--batch_size={_BATCH.value}',
                        f'--input_shape={",".join(_INPUT.value)}', f'--width={_WIDTH.value}',
                        f'--steps={_STEPS.value}', f'--repeats={_REPEATS.value}'],
                       capture_output=True, text=True, check=False)
  if out.returncode:
    raise SystemExit(f'error: the PyTorch baseline failed with {_TORCH_PYTHON.value}: '
                     f'{out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}'
                     '; pip install -r benchmarks/requirements.txt there, or pass --torch_python')
  return json.loads(out.stdout)


def main(argv):
  del argv
  results = []
  if _FRAMEWORK.value in ('jax', 'both'):
    results.append(jax_rows())
  if _FRAMEWORK.value in ('torch', 'both'):
    results.append(torch_rows())
  if len(results) == 2:
    jax_r, torch_r = results
    results.append({'jax_over_torch_train': [
        {'depth': a['depth'], 'ratio': round(a['train_images_per_s'] / b['train_images_per_s'], 3)}
        for a, b in zip(jax_r['per_depth'], torch_r['per_depth'])]})
  if _JSON.value:
    print(json.dumps(results, indent=1))
    return
  for r in results[:2]:
    print(f'{r["framework"]} {r["version"]}: ' + ', '.join(
        f'd{row["depth"]} train {row["train_images_per_s"]} eval {row["eval_images_per_s"]}'
        for row in r['per_depth'])
          + (f'; warm-up one pass {r["warmup_one_pass_images_per_s"]}, per depth '
             f'{r["warmup_per_depth_images_per_s"]} images/s'
             if 'warmup_one_pass_images_per_s' in r else ''))
  if len(results) == 3:
    print('JAX / PyTorch train:', results[2]['jax_over_torch_train'])


if __name__ == '__main__':
  app.run(main)
