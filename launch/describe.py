r"""Size of every depth of a ResNet, without training: params, bytes, FLOPs, reduction.

  python launch/describe.py --arch=resnet18 --input_shape=28,28,1 --num_classes=10 --json
"""

import json

from absl import app, flags

from odn_jax import models, size
from odn_jax.errors import FlagError
from odn_jax.launch_utils import run_main

_ARCH = flags.DEFINE_string('arch', 'resnet18', 'resnet18 | resnet34 | resnet50 | resnet101 | resnet152')
_INPUT_SHAPE = flags.DEFINE_list('input_shape', ['28', '28', '1'], 'H,W,C of one image.')
_NUM_CLASSES = flags.DEFINE_integer('num_classes', 10, 'Classes of the heads.')
_WIDTH = flags.DEFINE_integer('width', 64, 'Channels of the stem and first stage.')
_NO_FLOPS = flags.DEFINE_bool('no_flops', False, 'Skip compiling each depth for its FLOPs.')
_JSON = flags.DEFINE_bool('json', False, 'Print a JSON list of rows instead of a table.')


def parse_shape(values) -> tuple[int, int, int]:
  try:
    shape = tuple(int(v) for v in values)
  except ValueError:
    shape = ()
  if len(shape) != 3 or min(shape) < 1:
    raise FlagError(f'--input_shape must be three positive integers H,W,C, got {",".join(values)}')
  return shape


def format_table(rows) -> str:
  lines = [f'{"depth":>5} {"params":>12} {"bytes":>12} {"MFLOPs":>10} {"reduction":>10}']
  for r in rows:
    mflops = '-' if r['flops'] is None else f'{r["flops"] / 1e6:.1f}'
    lines.append(f'{r["depth"]:>5} {r["params"]:>12,} {r["bytes"]:>12,} {mflops:>10} '
                 f'{r["memory_reduction_pct"]:>9.2f}%')
  return '\n'.join(lines)


def main(argv):
  del argv
  model = models.build(_ARCH.value, _NUM_CLASSES.value, _WIDTH.value)
  rows = size.depth_table(model, parse_shape(_INPUT_SHAPE.value), flops=not _NO_FLOPS.value)
  print(json.dumps(rows, indent=1) if _JSON.value else format_table(rows))


if __name__ == '__main__':
  run_main(main)
