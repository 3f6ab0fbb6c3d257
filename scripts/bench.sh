#!/usr/bin/env bash
# Runs paneonnx's benchmarks next to ONNX Runtime (forward) and PyTorch
# (forward, forward + input gradient) in one run and prints a Markdown report
# with ratios. Used by `make bench`; docs/PERFORMANCE.md keeps the latest.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-.cache/bench}
mkdir -p "$out"
count=${BENCH_COUNT:-10x}

[ -f testmodels/cache/resnet18_full_op13/model.onnx ] || make fullmodels
scripts/install-ort.sh >/dev/null

echo "paneonnx benchmarks..." >&2
go test ./excitation/ -run '^$' -bench 'Explain' -benchtime "$count" | tee "$out/go.txt" >&2
go test ./cam/ -run '^$' -bench 'CAM' -benchtime 1x 2>/dev/null | tee "$out/cam.txt" >&2 || true
echo "ONNX Runtime..." >&2
CGO_ENABLED=1 go test -tags ort ./internal/ortref/ -run '^$' -bench ORT -benchtime "$count" | tee "$out/ort.txt" >&2
echo "PyTorch..." >&2
/usr/bin/python3 scripts/torch_bench.py --runs 20 --warmup 3 > "$out/torch.json"
/usr/bin/python3 scripts/bench_report.py "$out"
