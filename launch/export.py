r"""Serialises a run's extracted subnet with jax.export (StableHLO, symbolic batch).

  python launch/export.py --workdir=/tmp/odn_mnist --output=/tmp/odn_mnist.jaxexport
"""

from absl import flags

from odn_jax import checkpoint, evaluation, export
from odn_jax.launch_utils import run_main

_WORKDIR = flags.DEFINE_string('workdir', None, 'Workdir of a finished launch/train.py run.')
_OUTPUT = flags.DEFINE_string('output', None, 'File to write the exported model to.')
flags.mark_flags_as_required(['workdir', 'output'])


def main(argv):
  del argv
  config = evaluation.load_config(_WORKDIR.value)
  variables, info = checkpoint.load_variables(checkpoint.optimal_path(_WORKDIR.value))
  exported = export.export_subnet(config, variables, info)
  size = export.save(exported, _OUTPUT.value)
  print(f'exported depth {info["depth"]} of {info["arch"]} ({info["dataset"]}) to '
        f'{_OUTPUT.value}: {size:,} bytes; input float32 [batch, '
        f'{", ".join(map(str, info["input_shape"]))}] pixels 0..255 -> logits')


if __name__ == '__main__':
  run_main(main)
