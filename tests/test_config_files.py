"""--config by a shipped name or by a path, with `:ARG` passed to get_config."""

import os
from pathlib import Path

from absl import flags
import pytest

from odn_jax.config import validate
from odn_jax.config import files as config_files

ROOT = Path(__file__).resolve().parents[1]

TOY = '''
import ml_collections

def get_config(arg=None):
  return ml_collections.ConfigDict({'arg': arg, 'batch_size': 128})
'''


@pytest.fixture
def toy_configs(tmp_path, monkeypatch):
  """A shipped-configs folder holding `toy.py`, whose get_config takes an argument."""
  (tmp_path / 'toy.py').write_text(TOY)
  monkeypatch.setattr(config_files, 'configs_dir', lambda: str(tmp_path))
  return tmp_path


def test_shipped_names_are_the_repository_configs():
  assert config_files.names() == sorted(p.stem for p in (ROOT / 'configs').glob('[!_]*.py'))
  assert {'quickstart', 'mnist', 'fashion_mnist'} <= set(config_files.names())


def test_a_bare_name_resolves_to_the_shipped_file(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # no configs/ here: the name alone finds it
  for name in ('quickstart', 'quickstart.py', 'fashion_mnist'):
    path = Path(config_files.resolve(name))
    assert path.name == name.removesuffix('.py') + '.py'
    assert path.read_text() == (ROOT / 'configs' / path.name).read_text()


def test_a_path_is_used_as_given(tmp_path, monkeypatch):
  monkeypatch.chdir(ROOT)
  assert config_files.resolve('configs/mnist.py') == 'configs/mnist.py'
  assert config_files.resolve('configs/mnist.py:x') == 'configs/mnist.py:x'
  (tmp_path / 'quickstart').write_text(TOY)  # an existing file wins over a shipped name
  monkeypatch.chdir(tmp_path)
  assert config_files.resolve('quickstart') == 'quickstart'


def test_suffix_reaches_get_config_for_names_and_paths(toy_configs):
  assert config_files.get_config('toy').arg is None
  assert config_files.get_config('toy:fast').arg == 'fast'
  assert config_files.get_config(f'{toy_configs}/toy.py:fast').arg == 'fast'


@pytest.mark.parametrize('spec', ['toy:fast', 'TOY_PATH:fast'])
def test_flag_takes_name_or_path_suffix_and_overrides(toy_configs, spec):
  spec = spec.replace('TOY_PATH', str(toy_configs / 'toy.py'))
  argv = ['prog', f'--config={spec}', '--config.batch_size=7']
  flag_values = flags.FlagValues()
  holder = config_files.DEFINE_config('config', flag_values=flag_values, sys_argv=argv)
  flag_values(argv)
  assert (holder.value.arg, holder.value.batch_size) == ('fast', 7)


def test_the_clone_path_still_parses(monkeypatch):
  monkeypatch.chdir(ROOT)
  argv = ['prog', '--config=configs/quickstart.py', '--config.model.width=8']
  flag_values = flags.FlagValues()
  holder = config_files.DEFINE_config('config', flag_values=flag_values, sys_argv=argv)
  flag_values(argv)
  assert (holder.value.data.source, holder.value.model.width) == ('digits', 8)
  assert flag_values['config'].config_filename == 'configs/quickstart.py'


@pytest.mark.parametrize('spec, message', [
    ('nope', "unknown config 'nope'"),
    ('nope.py', 'config file nope.py does not exist'),
    (os.path.join('configs', 'nope.py'), 'does not exist'),
])
def test_unknown_configs_are_named(spec, message, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(config_files.ConfigError, match=message):
    config_files.resolve(spec)


@pytest.mark.parametrize('name', config_files.names())
def test_every_shipped_config_takes_the_fast_schedule(name):
  paper, fast = config_files.get_config(name), config_files.get_config(f'{name}:fast')
  assert (paper.schedule, fast.schedule) == ('paper', 'fast')
  assert fast.search.abandon_margin is not None and fast.search.final_epochs > 0
  assert paper.search.abandon_margin is None
  validate.check(fast)
