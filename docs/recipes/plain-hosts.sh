#!/usr/bin/env bash
# Train on several plain machines (no scheduler): run this script on every machine, each with its
# own PROCESS_ID, at about the same time (they wait up to 300 s for each other).
#
#   PROCESS_ID=0 bash docs/recipes/plain-hosts.sh    # on host0, which also serves the coordinator
#   PROCESS_ID=1 bash docs/recipes/plain-hosts.sh    # on host1
#
# Expected: each process prints "process i of 2: ... the mesh spans N" (N = all devices of all
# hosts), then trains; only process 0 writes the run folder. The numbers equal one machine with
# N devices on the same --batch_size (the global batch). Edit the four lines marked EDIT.
#
# Try it on one machine first, on the CPU (two processes, one CPU device each, Gloo collectives):
#   for i in 0 1; do JAX_PLATFORMS=cpu JAX_COORDINATOR_ADDRESS=127.0.0.1:12355 JAX_NUM_PROCESSES=2 \
#     JAX_PROCESS_ID=$i python train.py lm --steps=20 --name=two-procs --progress=false & done; wait
set -euo pipefail

export JAX_COORDINATOR_ADDRESS=host0.example.org:12355   # EDIT: host0's name or IP and a free port
export JAX_NUM_PROCESSES=2                               # EDIT: number of machines
export JAX_PROCESS_ID=${PROCESS_ID:?set PROCESS_ID to 0 .. JAX_NUM_PROCESSES-1}
cd /shared/minilm                                        # EDIT: the same checkout on every host

# EDIT: the command. --out_dir must be on storage every host sees (a resumed job reads the
# checkpoint on every process); --batch_size is the global batch, a multiple of all devices.
exec python train.py lm --name=lm-multi --out_dir=/shared/runs --batch_size=64 "$@"
