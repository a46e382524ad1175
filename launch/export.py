r"""Serialises a run's extracted subnet with jax.export (StableHLO, symbolic batch).

  odn-export --workdir=/tmp/odn_mnist --output=/tmp/odn_mnist.jaxexport [--platforms=cpu,cuda,tpu]

The file holds the forward pass to the optimal depth's head, its weights and the input
normalisation, computed in the run's dtype (bfloat16 with --config.half_precision); beside
it, FILE.json is the run's optimal/model.json (class names, dataset, depth). Run it
with odn-predict, or anywhere with jax:
  jax.export.deserialize(bytearray(open(FILE, 'rb').read())).call(images_0_to_255_float32)
From a clone, `python launch/export.py` is the same command.
"""

from absl import flags

from odn_jax.cli.main import run_main
from odn_jax.deploy import export, subnet
from odn_jax.errors import NotFoundError
from odn_jax.run import workdir as workdir_lib

_WORKDIR = flags.DEFINE_string('workdir', None, 'Workdir of a finished odn-train run.')
_OUTPUT = flags.DEFINE_string('output', None, 'File to write the exported model to.')
_PLATFORMS = flags.DEFINE_list('platforms', list(export.PLATFORMS),
                               'Platforms to lower for (cpu, cuda, rocm, tpu).')
flags.mark_flags_as_required(['workdir', 'output'])


def main(argv):
  del argv
  folder = workdir_lib.path(_OUTPUT.value).parent
  if not folder.is_dir():
    raise NotFoundError(f'--output={_OUTPUT.value}: folder {folder} does not exist')
  variables, info = subnet.load(_WORKDIR.value)
  exported = export.export_subnet(variables, info, platforms=_PLATFORMS.value)
  size = export.save(exported, _OUTPUT.value, info)
  print(f'exported depth {info.depth} of {info.arch} ({info.dataset}) to '
        f'{_OUTPUT.value}: {size:,} bytes, for {", ".join(exported.platforms)}; input float32 '
        f'[batch, {", ".join(map(str, info.input_shape))}] pixels 0..255 -> logits of '
        f'{info.num_classes} classes')


if __name__ == '__main__':
  run_main(main)
