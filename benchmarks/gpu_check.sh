#!/usr/bin/env bash
# GPU readiness check (issue #13): pick a Python that can run it, then benchmarks/gpu_check.py under a hard
# 8-minute cap. Installs and downloads nothing (the lent GPU machine has no network): a .venv carried from a
# CPU machine usually holds a CPU-only torch, so an interpreter is only used when it imports torch and lvg's
# modules and (unless --cpu-dry-run) sees CUDA. Results: $OUT/gpu_check.{json,md} (default ./gpu_check_out).
#   benchmarks/gpu_check.sh                  # on the GPU machine
#   benchmarks/gpu_check.sh --cpu-dry-run    # anywhere: tiny sizes on the CPU, < 2 minutes
set -u
cd "$(dirname "$0")/.."
export OUT="${OUT:-./gpu_check_out}"
mkdir -p "$OUT"
need_cuda=1
for arg in "$@"; do [ "$arg" = "--cpu-dry-run" ] && need_cuda=0; done

probe='import sys, torch, yaml, lvg.train.lowres, lvg.train.superres, lvg.generate
if int(sys.argv[1]) and not torch.cuda.is_available(): sys.exit(f"torch {torch.__version__} sees no CUDA device")
print(torch.__version__)'
PY="" how=""
for cand in .venv/bin/python python3 python; do
  command -v "$cand" >/dev/null 2>&1 || { echo "gpu_check: $cand: not found" >&2; continue; }
  if v=$("$cand" -c "$probe" "$need_cuda" 2>/tmp/gpu_check_probe.$$); then
    PY="$cand" how="$cand (torch $v, lvg from $("$cand" -c 'import lvg, os; print(os.path.dirname(lvg.__file__))'))"
    break
  fi
  # the repo itself may simply not be installed in this interpreter: retry with it on PYTHONPATH
  if v=$(PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$cand" -c "$probe" "$need_cuda" 2>/tmp/gpu_check_probe.$$); then
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    PY="$cand" how="$cand (torch $v, lvg from this checkout via PYTHONPATH)"
    break
  fi
  echo "gpu_check: $cand unusable: $(tail -n 1 /tmp/gpu_check_probe.$$)" >&2
done
rm -f /tmp/gpu_check_probe.$$
if [ -z "$PY" ]; then
  what="torch"; [ "$need_cuda" = 1 ] && what="a CUDA torch"
  echo "gpu_check: no interpreter with $what and lvg's dependencies; nothing was run" >&2
  exit 2
fi
echo "gpu_check: using $how" >&2
timeout -k 10 480 "$PY" benchmarks/gpu_check.py --out "$OUT" "$@"
rc=$?
[ $rc -eq 124 ] && echo "gpu_check: stopped at the 8-minute cap; $OUT/gpu_check.json holds the finished parts" >&2
exit $rc
