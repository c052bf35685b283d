"""The training core shared by every model: optimizer, loop, checkpoints, run logs."""
