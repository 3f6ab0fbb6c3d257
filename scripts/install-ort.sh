#!/usr/bin/env bash
# Installs the ONNX Runtime CPU shared library used as a test/benchmark reference
# (onnxruntime-node ships a prebuilt libonnxruntime.so inside its npm package).
# The library lands under .cache/ort (git-ignored). Idempotent: does nothing when
# the library is already present. Prints the library's absolute path on stdout.
set -euo pipefail

ORT_VERSION="${ORT_VERSION:-1.30.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/.cache/ort"
libdir="$prefix/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"

find_lib() {
	local f
	for f in "$libdir/libonnxruntime.so" "$libdir"/libonnxruntime.so.*; do
		if [ -f "$f" ]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

installed_version() {
	local pj="$prefix/node_modules/onnxruntime-node/package.json"
	[ -f "$pj" ] && sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pj" | head -n1
}

if lib="$(find_lib)" && [ "$(installed_version)" = "$ORT_VERSION" ]; then
	echo "$lib"
	exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
	echo "install-ort.sh: npm not found (apt-get install npm)" >&2
	exit 1
fi

mkdir -p "$prefix"
npm install --prefix "$prefix" --ignore-scripts --no-audit --no-fund --loglevel=error \
	"onnxruntime-node@$ORT_VERSION" >&2

if ! lib="$(find_lib)"; then
	echo "install-ort.sh: libonnxruntime.so not found under $libdir" >&2
	exit 1
fi
echo "$lib"
