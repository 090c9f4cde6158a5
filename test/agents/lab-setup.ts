// Node-side scripts for the real-service agent tests: a lab node (whose image comes with
// mariadb, rabbitmq, keystone, glance-api, heat-api and heat-engine installed and stopped) gets
// the OCF tools from its offline apt cache, the databases, a bootstrapped keystone and osha's agents.
// Every script is sent on stdin (nodeRun), so the passwords it holds are on no command line.
import { offlineInstallScript } from '../support/lab.ts';
import { databasesSql } from '../../src/lab/openstack.ts';

/** ocf-tester and its tools from the node's apt cache (the daemons' packages come with the image). */
export const INSTALL_SCRIPT = offlineInstallScript(['resource-agents', 'libxml2-utils', 'pacemaker-cli-utils'], '/var/log/osha-agents-install.log');

export interface LabSecrets {
  /** keystone's admin password (bootstrap) and the glance service's keystone password. */
  admin: string;
  keystoneDb: string;
  glanceDb: string;
  heatDb: string;
}

/**
 * keystonemiddleware's section: tokens checked against the node's keystone as admin. The region
 * is spelled out: Debian's heat.conf says regionOne, keystone bootstrap made RegionOne.
 */
function authtokenSection(adminPassword: string): string {
  return `[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:5000
auth_url = http://127.0.0.1:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = admin
username = admin
password = ${adminPassword}
region_name = RegionOne`;
}

/** Creates the databases, configures keystone, glance and heat, runs db_sync and keystone bootstrap. */
export function configureScript(s: LabSecrets): string {
  return String.raw`set -eu
systemctl start mariadb
mysql <<'SQL'
${databasesSql({ keystone: s.keystoneDb, glance: s.glanceDb, heat: s.heatDb }, 'localhost')}
SQL
# heat-engine talks to heat-api over the broker (RabbitMQ's guest user may log in from localhost).
systemctl start rabbitmq-server

# oslo.config lets a later section override an earlier one: append, keep Debian's file intact.
cat >> /etc/keystone/keystone.conf <<'EOF'

# --- osha agent tests ---
[database]
connection = mysql+pymysql://keystone:${s.keystoneDb}@localhost/keystone
[token]
provider = fernet
[healthcheck]
backends = disable_by_file
disable_by_file_path = /etc/keystone/healthcheck_disable
EOF

cat >> /etc/glance/glance-api.conf <<'EOF'

# --- osha agent tests ---
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
[database]
connection = mysql+pymysql://glance:${s.glanceDb}@localhost/glance
${authtokenSection(s.admin)}
[paste_deploy]
flavor = keystone
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = /var/lib/glance/images
[healthcheck]
backends = disable_by_file
disable_by_file_path = /etc/glance/healthcheck_disable
EOF

cat >> /etc/heat/heat.conf <<'EOF'

# --- osha agent tests ---
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:5672/
num_engine_workers = 1
[database]
connection = mysql+pymysql://heat:${s.heatDb}@localhost/heat
${authtokenSection(s.admin)}
[trustee]
auth_type = password
auth_url = http://127.0.0.1:5000
username = admin
password = ${s.admin}
user_domain_name = Default
[clients_keystone]
auth_uri = http://127.0.0.1:5000
[healthcheck]
backends = disable_by_file
disable_by_file_path = /etc/heat/healthcheck_disable
EOF

su -s /bin/sh -c 'keystone-manage db_sync' keystone
keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
# bootstrap reads the password from its environment, not from its command line.
OS_BOOTSTRAP_PASSWORD='${s.admin}' keystone-manage bootstrap \
  --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
  --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
  --bootstrap-admin-url http://127.0.0.1:5000/v3/ \
  --bootstrap-internal-url http://127.0.0.1:5000/v3/ \
  --bootstrap-public-url http://127.0.0.1:5000/v3/
su -s /bin/sh -c 'glance-manage db_sync' glance >/dev/null
su -s /bin/sh -c 'heat-manage db_sync' heat >/dev/null 2>&1

umask 077
printf '%s\n' '${s.admin}' > /root/osha-admin.password
chmod 0600 /root/osha-admin.password
`;
}

/**
 * Watches every process's argv while COMMAND runs (in the background) and prints
 * "leaks=N seen=M rc=R": N sweeps that found the secret in some argv (grep reads it from a file
 * with -f, so the scanner's own argv never holds it), M sweeps that saw an argv matching the
 * regex SEEN (write it so that it does not match itself, e.g. 'v3/[a]uth'), R the exit code.
 */
export function argvScanScript(command: string, secretFile: string, seen: string): string {
  return String.raw`
( ${command} ) >/tmp/osha-scan.out 2>&1 &
job=$!
leaks=0; seen=0
while kill -0 "$job" 2>/dev/null; do
  if grep -laF -f '${secretFile}' /proc/[0-9]*/cmdline >/tmp/osha-scan.leaks 2>/dev/null; then
    leaks=$((leaks + 1)); for f in $(cat /tmp/osha-scan.leaks); do tr '\0' ' ' < "$f" >&2; echo >&2; done
  fi
  grep -qa '${seen}' /proc/[0-9]*/cmdline 2>/dev/null && seen=$((seen + 1))
done
wait "$job"; rc=$?
echo "leaks=$leaks seen=$seen rc=$rc"
`;
}
