#!/usr/bin/env bash
# Fleet host container test (`npm run test:fleet-host`). It renders a one-host fleet
# definition with `voxfleet ingress render`, starts the rendered hosts/<host>.compose.yaml
# (FLEET_HOST_WORKERS worker containers, default 3) together with support.compose.yaml
# (Redis and voxbridge) and the rendered ingress.compose.yaml (HAProxy on the host network),
# then runs host-calls.containers.ts against them. It also checks that docker-compose 1.29
# reads every compose file rendered from examples/fleet.yaml. Every container, network and
# volume of the run is removed at exit, also when a step fails.
#
# Needs the container tools of ../shared/tools/containers (Podman with a Docker-compatible
# socket, docker-compose 1.29, stand-in base images); set VOXFLEET_CONTAINER_TOOLS to use
# another copy. It builds voxfleet/voxcore-worker:smoke and voxfleet/voxbridge:smoke, the
# tags `npm run test:containers` builds, so after that test both builds come from the cache.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
tools=${VOXFLEET_CONTAINER_TOOLS:-$root/../shared/tools/containers}
workers=${FLEET_HOST_WORKERS:-3}
project=voxfleet-fleet-host-$$
tag=smoke
work=$(mktemp -d)
started=$SECONDS

log() { printf 'test:fleet-host: %s\n' "$*"; }

host_compose() {
  docker-compose -p "$project" -f "$work/rendered/hosts/box-1.compose.yaml" \
    -f "$here/support.compose.yaml" "$@"
}
ingress_compose() {
  docker-compose -p "$project-ingress" -f "$work/rendered/ingress.compose.yaml" "$@"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -f $work/rendered/ingress.compose.yaml ]]; then
    if ((status != 0)); then
      log "failed (exit $status); container states and last log lines follow"
      host_compose ps || true
      ingress_compose logs --no-color --tail=20 || true
      host_compose logs --no-color --tail=30 || true
    fi
    ingress_compose down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 ||
      log "docker-compose down failed; remove the containers of project $project-ingress by hand"
    host_compose down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 ||
      log "docker-compose down failed; remove the containers of project $project by hand"
  fi
  rm -rf "$work"
  log "total $((SECONDS - started)) s"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "preparing Podman and the stand-in base images"
"$tools/setup" >/dev/null
"$tools/stand-in-images" >/dev/null
export DOCKER_HOST=unix:///run/podman/podman.sock

git_sha=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
# No --pull flag: the docker CLI's builder takes only true or false there, and without it
# Podman uses the local stand-in base images. --force-rm, because Podman otherwise keeps the
# build container of a failed step.
for entry in "voxcore-worker apps/worker/Dockerfile" "voxbridge apps/bridge/Dockerfile"; do
  read -r service dockerfile <<<"$entry"
  build_started=$SECONDS
  if ! docker build --force-rm -f "$root/$dockerfile" -t "voxfleet/$service:$tag" \
    --build-arg GIT_SHA="$git_sha" "$root" >"$work/build-$service.log" 2>&1; then
    tail -n 40 "$work/build-$service.log"
    log "building voxfleet/$service:$tag failed; the last 40 lines of its output are above"
    exit 1
  fi
  log "built voxfleet/$service:$tag in $((SECONDS - build_started)) s"
done

# Four single ports, then one block of 2 * workers consecutive ports: worker HTTP ports
# first, agent-check ports after them.
read -r ingress_port stats_port redis_port bridge_port worker_base < <(
  node -e '
    const net = require("node:net");
    const workers = Number(process.argv[1]);
    const isFree = (port) => new Promise((resolve) => {
      const server = net.createServer().once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    (async () => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const base = 20000 + Math.floor(Math.random() * 40000);
        const ports = Array.from({ length: 4 + 2 * workers }, (_, i) => base + i);
        if ((await Promise.all(ports.map(isFree))).every(Boolean)) {
          process.stdout.write(`${ports.slice(0, 5).join(" ")}\n`);
          return;
        }
      }
      process.exit(1);
    })();
  ' "$workers"
)
agent_base=$((worker_base + workers))

secret() { node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('base64url'))"; }
export BRIDGE_INTERNAL_TOKEN BRIDGE_BOOTSTRAP_API_KEY FLEET_REDIS_PORT FLEET_BRIDGE_PORT VOXFLEET_TAG
BRIDGE_INTERNAL_TOKEN=$(secret)
BRIDGE_BOOTSTRAP_API_KEY=$(secret)
FLEET_REDIS_PORT=$redis_port
FLEET_BRIDGE_PORT=$bridge_port
VOXFLEET_TAG=$tag

# One brand, one fleet, one host on 127.0.0.1: HAProxy on the host network reaches the
# workers through their ports published there, and binds only loopback addresses itself.
cat >"$work/fleet.yaml" <<YAML
version: 1
ingress:
  httpBind: 127.0.0.1:$ingress_port
  statsBind: 127.0.0.1:$stats_port
  maxConnections: 1000
timeouts:
  checkIntervalMs: 500
  agentIntervalMs: 300
brands:
  - name: test
    domains: [fleet.test]
fleets:
  - name: box
    brand: test
    hosts:
      - { name: box-1, address: 127.0.0.1 }
    workersPerHost: $workers
    workerBasePort: $worker_base
    agentBasePort: $agent_base
    image: voxfleet/voxcore-worker:$tag
    registryUrl: redis://redis:6379
    bridgeUrl: http://voxbridge:7700
    drainTimeoutMs: 5000
YAML
(cd "$root" && node --conditions=development --import tsx packages/cli/src/bin.ts \
  ingress render "$work/fleet.yaml" --out "$work/rendered") >/dev/null
haproxy -c -q -f "$work/rendered/haproxy.cfg"

# The two-brand example must render to compose files that docker-compose 1.29 reads too.
(cd "$root" && node --conditions=development --import tsx packages/cli/src/bin.ts \
  ingress render examples/fleet.yaml --out "$work/example") >/dev/null
for file in "$work/example/ingress.compose.yaml" "$work/example/hosts/"*.compose.yaml; do
  docker-compose -f "$file" config -q
done

up_started_ms=$(date +%s%3N)
log "starting Redis and voxbridge (project $project)"
host_compose up -d --no-build redis voxbridge
for _ in $(seq 150); do
  curl -sf "http://127.0.0.1:$bridge_port/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$bridge_port/ready" >/dev/null
log "starting $workers workers and HAProxy"
host_compose up -d --no-build
ingress_compose up -d --no-build

FLEET_INGRESS_PORT=$ingress_port \
  FLEET_STATS_URL=http://127.0.0.1:$stats_port/stats \
  FLEET_DOMAIN=fleet.test \
  FLEET_BACKEND=be_box \
  FLEET_POOL=box \
  FLEET_WORKERS=$workers \
  FLEET_REGISTRY_URL=redis://127.0.0.1:$redis_port \
  FLEET_BRIDGE_URL=http://127.0.0.1:$bridge_port \
  FLEET_API_KEY=$BRIDGE_BOOTSTRAP_API_KEY \
  FLEET_INTERNAL_TOKEN=$BRIDGE_INTERNAL_TOKEN \
  node --conditions=development --import tsx --test \
  "$here/host-calls.containers.ts"
log "compose up -> checks passed: $(($(date +%s%3N) - up_started_ms)) ms"
log "passed"
