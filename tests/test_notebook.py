"""The Colab notebook runs top to bottom."""

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / 'notebooks' / 'odn_quickstart.ipynb'


def test_quickstart_notebook_runs(quickstart_run, monkeypatch):
  _, workdir, summary = quickstart_run
  # The session's quickstart run is finished: the notebook's search reports it, and every
  # later cell (report, evaluation, export, prediction) runs on it for real.
  monkeypatch.setenv('ODN_QUICKSTART_WORKDIR', workdir)
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  NotebookClient(notebook, timeout=600, kernel_name='python3',
                 resources={'metadata': {'path': str(NOTEBOOK.parent)}}).execute()
  outputs = ''.join(o.get('text', '') for cell in notebook.cells if cell.cell_type == 'code'
                    for o in cell.get('outputs', []))
  assert f'optimal depth {summary["optimal_depth"]}' in outputs
  assert f'exported model: {summary["test_accuracy"]:.2f}%' in outputs
  assert os.path.exists(os.path.join(workdir, 'optimal.jaxexport'))
  assert f'subnet from Python: {summary["test_accuracy"]:.2f}%' in outputs
  # Run in the clone: the first cell used it and installed nothing.
  assert 'odn_jax from the clone at' in outputs
