"""`pip install .` gives the odn-* commands and the shipped configs, from any directory,
and its runtime requirements pull no TensorFlow and no test tools."""

import configparser
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import CACHE_FLAG

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ('odn-train', 'odn-evaluate', 'odn-export', 'odn-predict', 'odn-describe',
            'odn-report', 'odn-import-data', 'odn-compare')
NOT_AT_RUNTIME = {'tensorflow', 'tensorflow-cpu', 'scikit-learn', 'pytest', 'nbclient',
                  'nbformat', 'ipykernel', 'chex'}


def setup_cfg() -> configparser.ConfigParser:
  parser = configparser.ConfigParser()
  parser.read(ROOT / 'setup.cfg')
  return parser


def lines(value: str) -> list[str]:
  return [l.strip() for l in value.strip().splitlines() if l.strip()]


def name_of(requirement: str) -> str:
  return re.split(r'[\s\[<>=!~;]', requirement, maxsplit=1)[0].lower().replace('_', '-')


def test_every_package_and_launcher_ships():
  cfg = setup_cfg()
  packages = set(lines(cfg['options']['packages']))
  found = {'.'.join(p.relative_to(ROOT).parent.parts) for p in (ROOT / 'odn_jax').rglob('__init__.py')}
  assert found | {'odn_jax.configs', 'odn_jax.launch'} == packages
  scripts = dict(l.split(' = ') for l in lines(cfg['options.entry_points']['console_scripts']))
  launchers = {p.stem.replace('_', '-') for p in (ROOT / 'launch').glob('[!_]*.py')}
  assert {c.removeprefix('odn-') for c in scripts} == launchers
  from odn_jax import cli  # pylint: disable=g-import-not-at-top
  for command, target in scripts.items():
    assert target == f'odn_jax.cli:{command.removeprefix("odn-").replace("-", "_")}'
    assert callable(getattr(cli, target.split(':')[1]))


def runtime_closure(requirements) -> set[str]:
  """Names of the installed distributions the runtime requirements pull in, transitively
  (requirements behind an extra are not followed)."""
  from packaging.requirements import Requirement  # pylint: disable=g-import-not-at-top
  seen, todo = set(), [Requirement(r) for r in requirements]
  while todo:
    req = todo.pop()
    name = req.name.lower().replace('_', '-')
    if name in seen or (req.marker and not req.marker.evaluate({'extra': ''})):
      continue
    seen.add(name)
    try:
      todo.extend(Requirement(r) for r in importlib.metadata.requires(req.name) or [])
    except importlib.metadata.PackageNotFoundError:
      pass
  return seen


def test_runtime_requirements_pull_no_tensorflow_and_no_test_tools():
  cfg = setup_cfg()
  runtime = lines(cfg['options']['install_requires'])
  assert not {name_of(r) for r in runtime} & NOT_AT_RUNTIME
  assert not runtime_closure(runtime) & NOT_AT_RUNTIME
  extras = {k: {name_of(r) for r in lines(v)} for k, v in cfg['options.extras_require'].items()}
  assert 'tensorflow' in extras['prepare'] and {'pytest', 'nbclient'} <= extras['dev']


def test_pinned_requirements_cover_the_runtime():
  pinned = {name_of(l) for l in lines((ROOT / 'requirements.txt').read_text())
            if not l.startswith('#')}
  assert {name_of(r) for r in lines(setup_cfg()['options']['install_requires'])} <= pinned


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
  """A fresh virtualenv with the built wheel installed (its dependencies are those of the
  running interpreter, put on its path, so nothing is downloaded)."""
  tmp = tmp_path_factory.mktemp('install')
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}  # nothing of the clone
  run = lambda *cmd: subprocess.run(cmd, capture_output=True, text=True, check=True,
                                    timeout=600, env=env)
  # Built from a copy: the build's own files (build/, *.egg-info) stay out of the clone.
  source = tmp / 'source'
  shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
      '.git', '.venv', 'workdirs', 'build', 'dist', '*.egg-info', '__pycache__', '.pytest_cache'))
  run(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
      '-w', str(tmp / 'dist'), str(source))
  wheel, = (tmp / 'dist').glob('odn_jax-*.whl')
  venv = tmp / 'venv'
  run(getattr(sys, '_base_executable', sys.executable), '-m', 'venv', '--without-pip', str(venv))
  python = venv / 'bin' / 'python'
  site = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                        capture_output=True, text=True, check=True).stdout.strip()
  run(sys.executable, '-m', 'pip', '--python', str(python), 'install', '-q', '--no-deps',
      '--no-index', str(wheel))
  # Then the running environment's packages, as plain paths: its own .pth files (an editable
  # odn_jax) stay out, and the venv's odn_jax comes first.
  Path(site, 'deps.pth').write_text('\n'.join(
      p for p in {sysconfig.get_path('purelib'), sysconfig.get_path('platlib')}) + '\n')
  return venv, tmp / 'elsewhere', env


def command(installed, *args, timeout=600):
  venv, cwd, env = installed
  cwd.mkdir(exist_ok=True)
  return subprocess.run([str(venv / 'bin' / args[0]), *args[1:]], capture_output=True,
                        text=True, check=False, cwd=cwd, env=env, timeout=timeout)


@pytest.mark.slow
def test_installed_package_is_the_wheel_not_the_clone(installed):
  out = command(installed, 'python', '-c', 'import odn_jax, odn_jax.config.files as c; '
                'print(odn_jax.__file__); print(c.resolve("quickstart"))')
  assert out.returncode == 0, out.stderr[-2000:]
  package, quickstart = out.stdout.split()
  assert 'site-packages' in package and str(ROOT) not in package
  assert Path(quickstart).parent == Path(package).parent / 'configs'
  assert Path(quickstart).read_text() == (ROOT / 'configs' / 'quickstart.py').read_text()


@pytest.mark.slow
def test_every_command_runs_from_another_directory(installed):
  key_flag = {'train': 'config', 'evaluate': 'workdir', 'export': 'output', 'predict': 'model',
              'describe': 'arch', 'report': 'workdir', 'import-data': 'source_dir',
              'compare': 'markdown'}
  for name in COMMANDS:
    out = command(installed, name, '--helpshort')  # absl: help, then exit status 1
    assert f'--{key_flag[name.removeprefix("odn-")]}' in out.stdout, (name, out.stderr[-2000:])
    assert 'Traceback' not in out.stderr
  out = command(installed, 'odn-describe', '--arch=resnet18', '--input_shape=28,28,1',
                '--num_classes=10', '--json')
  assert out.returncode == 0, out.stderr[-2000:]
  rows = json.loads(out.stdout)
  assert [r['depth'] for r in rows] == list(range(1, 9)) and rows[0]['flops'] > 0
  out = command(installed, 'odn-train', '--config=nope', '--workdir=w')
  assert out.returncode != 0 and "unknown config 'nope'" in out.stderr


@pytest.mark.slow
def test_installed_train_by_name_and_compare(installed):
  """The quickstart by its name, shortened by overrides, then the compare command on it."""
  out = command(installed, 'odn-train', '--config=quickstart', '--workdir=run', CACHE_FLAG,
                '--config.model.width=4', '--config.warmup.epochs=1',
                '--config.search.max_epochs_total=4', '--config.search.max_epochs_per_depth=2')
  assert out.returncode == 0, out.stderr[-3000:]
  out = command(installed, 'odn-compare', 'run', '--markdown=table.md')
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'digits' in out.stdout.splitlines()[1]
  assert (installed[1] / 'table.md').exists()


def test_license_and_citation():
  """setup.cfg's licence is the LICENSE file's, and CITATION.cff cites the paper."""
  assert setup_cfg()['metadata']['license'] == 'Apache-2.0'
  assert 'Apache License\n                           Version 2.0' in (ROOT / 'LICENSE').read_text()
  citation = (ROOT / 'CITATION.cff').read_text()
  assert 'cff-version: 1.2.0' in citation and 'license: Apache-2.0' in citation
  assert 'preferred-citation:' in citation and 'arXiv:2510.10764' in citation
