#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# tests/e2e/t_fuzz_control.sh - the libFuzzer target tests/fuzz/fuzz_control.c for
# about 10 s (FUZZ_CHECK_SECONDS): passes if it finds no crash. The fuzz
# build (build-fuzz/, make fuzz-build) is made first if it is missing.
cd "$(dirname "$0")/../.." || exit 2
[ -x build-fuzz/fuzz/fuzz_control ] || make -s fuzz-build || exit 2
exec scripts/fuzz "${FUZZ_CHECK_SECONDS:-10}" control
