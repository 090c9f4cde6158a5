#!/usr/bin/env bash
# The main job on the local lab, start to end: install what is missing, boot 3 lab nodes that are
# OpenStack controllers before HA (MariaDB, RabbitMQ, keystone and glance-api from Debian's
# packages, bootstrapped, run by node1 under systemd), let osha make them highly available behind
# the VIP, show the cluster, kill the VIP's node and measure the recovery. Re-running it reuses the
# lab: the deploy changes nothing and the drill's table of the first run is shown again.
# Environment: OSHA_LAB_DIR (default .osha-lab), OSHA_LAB_SUBNET (the X of 198.18.X.0/24, default 0),
# OSHA_LAB_RELEASE (the nodes' Debian release: bookworm, the default, or trixie).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=${OSHA_LAB_DIR:-.osha-lab}
subnet=${OSHA_LAB_SUBNET:-0}
release=${OSHA_LAB_RELEASE:-bookworm}
osha() { node bin/osha.js "$@"; }
say() { printf '\n\033[1mdemo: %s\033[0m\n' "$*"; }
inventory=$dir/inventory.yaml
drill_table=$dir/demo-drill.txt

fresh=no
if [ -f "$dir/lab.json" ] && osha lab status --dir "$dir" >/dev/null 2>&1; then
  say "reusing the lab in $dir"
  # A lab made before the demo bootstrapped controllers: make its nodes controllers now (once).
  osha lab controllers --dir "$dir" | grep -q 'already bootstrapped' || fresh=yes
else
  say "booting 3 Debian $release lab nodes as OpenStack controllers before HA (node1 runs MariaDB, RabbitMQ, keystone, glance-api)"
  rm -f "$drill_table"
  osha lab up --dir "$dir" --nodes 3 --subnet "$subnet" --release "$release" --openstack
  fresh=yes
fi

if [ "$fresh" = yes ]; then
  say "deploying: the plan stops the services node1 runs outside Pacemaker (marked DISRUPTIVE); the demo confirms with --yes"
  osha deploy "$inventory" --yes
else
  say "deploying again: nothing to change"
  osha deploy "$inventory"
fi

say "the cluster"
osha status "$inventory"

if [ -f "$drill_table" ]; then
  say "failover drill of $(date -r "$drill_table" '+%F %T') (run it again: node bin/osha.js drill $inventory --lab $dir)"
  cat "$drill_table"
else
  say "failover drill: the VIP's node is killed (power cut), fenced, and its services recover on another node"
  osha drill "$inventory" --lab "$dir" --timeout 300 | tee "$drill_table.tmp"
  mv "$drill_table.tmp" "$drill_table"
fi

say "done. Try next:"
cat <<EOF
  node bin/osha.js plan $inventory                 # what a deploy would change (nothing now)
  node bin/osha.js status $inventory --json        # the cluster as JSON
  node bin/osha.js drill $inventory --lab $dir --mode partition   # cut the VIP node's network instead
  node bin/osha.js lab kill node2 --dir $dir       # pull a node's power; 'lab start node2' boots it
  ssh -i $dir/id_ed25519 -o UserKnownHostsFile=$dir/known_hosts root@$(awk '/address:/{print $2; exit}' "$inventory")
  node bin/osha.js lab down --dir $dir             # remove the lab (containers, network, shared storage)
EOF
