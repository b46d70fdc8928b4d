#!/usr/bin/env bash
# seqrun-slurm.sh - score a list of tensor files with a Slurm job array.
#
#   sbatch --array=0-$(( (N + PER_TASK - 1) / PER_TASK - 1 )) \
#          tools/seqrun-slurm.sh MODEL.yaml PATHS.txt OUTDIR [PER_TASK]
#
# PATHS.txt holds one input path per line (N lines).  Task i takes lines
# [i*PER_TASK, (i+1)*PER_TASK) and feeds them to `seqrun --paths`, which
# writes OUTDIR/NAME.out.npy for each and prints the output paths; those go
# to OUTDIR/task-i.done, and the task fails if any path failed.
#SBATCH --job-name=seqrun
#SBATCH --cpus-per-task=2
#SBATCH --output=seqrun-%A_%a.log
set -euo pipefail
model=$1 paths=$2 outdir=$3 per=${4:-100}
task=${SLURM_ARRAY_TASK_ID:?run under sbatch --array}
mkdir -p "$outdir"
first=$((task * per + 1))
sed -n "${first},$((first + per - 1))p" "$paths" |
    seqrun -q --threads "${SLURM_CPUS_PER_TASK:-1}" --paths -o "$outdir" "$model" \
        >"$outdir/task-$task.done"
