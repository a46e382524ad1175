"""The README stays a first hour's read, its Layout is the package tree, and every page of
docs/ is reachable from it with no link to a file that is not there."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / 'README.md').read_text()


def layout() -> dict[str, set[str]]:
  """Folder -> the module names README's Layout block lists for it."""
  block = README.split('## Layout', 1)[1].split('```text\n', 1)[1].split('```', 1)[0]
  folders, current = {}, None
  for line in block.splitlines():
    line = line.split('#', 1)[0]
    if line.startswith('odn_jax/'):
      current, line = line.split(maxsplit=1)[0].rstrip('/'), line.split(maxsplit=1)[1]
    folders.setdefault(current, set()).update(n.strip() for n in line.split(',') if n.strip())
  return folders


def package_tree() -> dict[str, set[str]]:
  tree = {}
  for p in (ROOT / 'odn_jax').rglob('*'):
    if p.suffix in ('.py', '.npz') and '__pycache__' not in p.parts:
      name = p.stem if p.suffix == '.py' else p.name
      tree.setdefault(str(p.parent.relative_to(ROOT)), set()).add(name)
  return tree


def test_readme_is_under_200_lines():
  assert len(README.splitlines()) < 200


def test_readme_layout_is_the_package_tree():
  listed, tree = layout(), package_tree()
  for folder in sorted(set(listed) | set(tree)):
    missing, extra = tree.get(folder, set()) - listed.get(folder, set()), \
        listed.get(folder, set()) - tree.get(folder, set())
    assert not missing and not extra, (
        f"README.md's Layout, line {folder}/: add {sorted(missing)}, remove {sorted(extra)}")


def links(path: Path) -> list[str]:
  return [l for l in re.findall(r'\]\(([^)#\s]+)', path.read_text()) if '://' not in l]


def test_every_docs_page_is_linked_from_the_readme_and_every_link_resolves():
  pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / 'docs').glob('*.md'))
  assert set(pages) <= set(links(ROOT / 'README.md')), 'a page of docs/ the README never links'
  for page in [ROOT / 'README.md', *(ROOT / p for p in pages)]:
    for link in links(page):
      assert (page.parent / link).exists(), f'{page.relative_to(ROOT)} links to {link}: missing'
