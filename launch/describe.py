r"""Size of every depth of a ResNet, without training: params, bytes, FLOPs, reduction;
with --throughput also its inference speed measured here (images/s, median of a few runs).

  odn-describe --arch=resnet18 --input_shape=28,28,1 --num_classes=10 --json
  odn-describe --arch=resnet18 --throughput --depths=3,8 --batch_sizes=1,256
  odn-describe --arch=resnet50 --noflops          # params and bytes only: no compiling

From Python: odn_jax.describe(arch, input_shape, num_classes). From a clone,
`python launch/describe.py` is the same command.
"""

import json

from absl import app, flags

from odn_jax import models
from odn_jax.cli.main import run_main
from odn_jax.errors import FlagError
from odn_jax.models import size, speed

_ARCH = flags.DEFINE_string('arch', 'resnet18', ' | '.join(models.ARCHS))
_INPUT_SHAPE = flags.DEFINE_list('input_shape', ['28', '28', '1'], 'H,W,C of one image.')
_NUM_CLASSES = flags.DEFINE_integer('num_classes', 10, 'Classes of the heads.')
_WIDTH = flags.DEFINE_integer('width', 64, 'Channels of the stem and first stage.')
_FLOPS = flags.DEFINE_bool('flops', True, 'Compile each depth for its FLOPs (--noflops: skip).')
_NO_FLOPS = flags.DEFINE_bool('no_flops', False, 'Old name of --noflops.')
_JSON = flags.DEFINE_bool('json', False, 'Print a JSON list of rows instead of a table.')
_THROUGHPUT = flags.DEFINE_bool('throughput', False,
                                'Measure images/s of the forward pass at each depth here.')
_DEPTHS = flags.DEFINE_list('depths', [], 'With --throughput: the depths to time (all if empty).')
_BATCH_SIZES = flags.DEFINE_list('batch_sizes', [str(b) for b in speed.BATCH_SIZES],
                                 'With --throughput: the batch sizes to time.')


def parse_shape(values) -> tuple[int, int, int]:
  try:
    shape = tuple(int(v) for v in values)
  except ValueError:
    shape = ()
  if len(shape) != 3 or min(shape) < 1:
    raise FlagError(f'--input_shape must be three positive integers H,W,C, got {",".join(values)}')
  return shape


def parse_positive(name: str, values) -> list[int]:
  try:
    numbers = [int(v) for v in values]
  except ValueError:
    numbers = [0]
  if not numbers or min(numbers) < 1:
    raise FlagError(f'--{name} must be positive integers separated by commas, got '
                    f'{",".join(values)}')
  return numbers


def format_table(rows, batch_sizes=()) -> str:
  speeds = ''.join(f' {f"img/s b={b}":>12}' for b in batch_sizes)
  lines = [f'{"depth":>5} {"params":>12} {"bytes":>12} {"MFLOPs":>10} {"reduction":>10}' + speeds]
  for r in rows:
    mflops = '-' if r['flops'] is None else f'{r["flops"] / 1e6:.1f}'
    measured = ''.join(f' {"-" if r.get(speed.key(b)) is None else f"{r[speed.key(b)]:,.0f}":>12}'
                       for b in batch_sizes)
    lines.append(f'{r["depth"]:>5} {r["params"]:>12,} {r["bytes"]:>12,} {mflops:>10} '
                 f'{r["memory_reduction_pct"]:>9.2f}%' + measured)
  return '\n'.join(lines)


def add_throughput(model, input_shape, rows, depths, batch_sizes) -> list[dict]:
  """`rows` with images/s at each of `batch_sizes` for `depths` (None for the others)."""
  unknown = sorted(set(depths) - {r['depth'] for r in rows})
  if unknown:
    raise FlagError(f'--depths {unknown} are not depths of {model.arch} (1..{model.max_depth})')
  measured = {r['depth']: r for r in speed.throughput(model, input_shape, depths, batch_sizes)}
  return [{**r, **{speed.key(b): measured.get(r['depth'], {}).get(speed.key(b))
                   for b in batch_sizes}} for r in rows]


def main(argv):
  del argv
  model = models.build(_ARCH.value, _NUM_CLASSES.value, _WIDTH.value)
  input_shape = parse_shape(_INPUT_SHAPE.value)
  batch_sizes = parse_positive('batch_sizes', _BATCH_SIZES.value) if _THROUGHPUT.value else []
  depths = parse_positive('depths', _DEPTHS.value) if _DEPTHS.value else None
  if depths is not None and not _THROUGHPUT.value:
    raise FlagError('--depths chooses the depths --throughput times; add --throughput')
  rows = size.depth_table(model, input_shape, flops=_FLOPS.value and not _NO_FLOPS.value)
  if _THROUGHPUT.value:
    rows = add_throughput(model, input_shape, rows, depths or [r['depth'] for r in rows],
                          batch_sizes)
  print(json.dumps(rows, indent=1) if _JSON.value else format_table(rows, batch_sizes))


if __name__ == '__main__':
  run_main(main)
