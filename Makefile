# paneonnx build, test and benchmark targets.
GO ?= go
PY ?= /usr/bin/python3

.PHONY: build test vet bench conformance testmodels fullmodels fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -o paneonnx ./cmd/paneonnx

# The test suite: vet, every package, the pure-Go kernel fallback, the
# audit's parallel workers under the race detector, and the fuzz targets'
# seed corpora (run as ordinary tests).
test:
	$(GO) vet ./...
	$(GO) test ./...
	$(GO) test -tags purego ./kernels/
	$(GO) test -race ./audit/

# Regenerates docs/CONFORMANCE.md from the ONNX backend node tests.
conformance:
	PANEONNX_WRITE_CONFORMANCE=$(CURDIR)/docs/CONFORMANCE.md $(GO) test -count=1 -run TestONNXNodeTests ./importer/

# Re-exports the committed test models and their golden outputs (PyTorch).
testmodels:
	$(PY) testmodels/export.py
	$(PY) testmodels/verify.py

# Full-size torchvision exports for benchmarks (git-ignored cache).
fullmodels:
	$(PY) testmodels/export.py --full --out testmodels/cache

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./importer/

clean:
	rm -f paneonnx

# Benchmarks next to ONNX Runtime and PyTorch, as a Markdown report.
bench:
	scripts/bench.sh
