#!/usr/bin/env bash
# The main job on the local lab: install what is missing, boot 3 lab nodes, deploy the cluster
# onto them, show its status. Re-running it reuses the lab and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=${OSHA_LAB_DIR:-.osha-lab}
if [ -f "$dir/lab.json" ] && node bin/osha.js lab status --dir "$dir" >/dev/null 2>&1; then
  echo "demo: reusing the lab in $dir"
else
  node bin/osha.js lab up --dir "$dir" --nodes 3
fi
node bin/osha.js deploy "$dir/inventory.yaml"
node bin/osha.js status "$dir/inventory.yaml"
echo "demo: done. Remove the lab with: node bin/osha.js lab down --dir $dir"
