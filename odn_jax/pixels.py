"""Pixels to network inputs: the one normalisation of the data pipeline, the extracted
subnet and its export (numpy arrays or traced jax arrays alike).

Its own module, importing numpy alone, so that a deployed subnet and `launch/predict.py`
normalise as training did without loading the data pipeline.
"""

import numpy as np


def normalize(images, mean, std):
  """uint8 (or 0..255 float) [..., C] -> float32 (x / 255 - mean) / std per channel."""
  scale = np.float32(1 / 255)
  return ((images.astype(np.float32) * scale - np.asarray(mean, np.float32))
          / np.asarray(std, np.float32))
