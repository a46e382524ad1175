"""odn_jax: find the optimal depth of a ResNet for a dataset, and ship that subnet."""

__version__ = '0.1.0'
