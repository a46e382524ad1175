"""A run's plumbing: its workdir and files, checkpoints, devices and compilation cache."""
