#!/usr/bin/env bash
# README.md is assembled from these sections so that each front end documents itself in one place.
set -euo pipefail
cd "$(dirname "$0")"
order=(intro helm argocd flux-kustomize conversion explain-check pods performance robustness development)
for section in "${order[@]}"; do
    [ -f "$section.md" ] || continue
    cat "$section.md"
    echo
done > ../README.md
