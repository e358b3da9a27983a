#!/usr/bin/env bash
# Container smoke test (`npm run test:containers`). It builds the five images from their
# Dockerfiles and starts compose.yaml with compose.embedded.yaml (SQLite and files in place
# of MongoDB and MinIO) and the sim carrier. Then it runs the demo campaign against the
# published voxbridge port and checks that the calls ran on the worker containers. Every
# container, network and volume of the run is removed at exit, also when a step fails.
#
# Needs the container tools of ../shared/tools/containers (Podman with a Docker-compatible
# socket, docker-compose 1.29, stand-in base images); set VOXFLEET_CONTAINER_TOOLS to use
# another copy. SMOKE_SIM_SPEED (default 10) sets the sim carrier speed. The images keep the
# tag voxfleet/<service>:smoke after the run, so the next run reuses their build layers.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
compose_dir=$root/deploy/compose
tools=${VOXFLEET_CONTAINER_TOOLS:-$root/../shared/tools/containers}
project=voxfleet-smoke-$$
tag=smoke
work=$(mktemp -d)
env_file=$work/env
started=$SECONDS

log() { printf 'test:containers: %s\n' "$*"; }

compose() {
  docker-compose -p "$project" --env-file "$env_file" --profile sim \
    -f "$compose_dir/compose.yaml" -f "$compose_dir/compose.embedded.yaml" "$@"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -f $env_file ]]; then
    if ((status != 0)); then
      log "failed (exit $status); container states and last log lines follow"
      compose ps || true
      compose logs --no-color --tail=40 || true
    fi
    compose down --volumes --remove-orphans --timeout 30 >/dev/null 2>&1 ||
      log "docker-compose down failed; remove the containers of project $project by hand"
  fi
  rm -rf "$work"
  log "total $((SECONDS - started)) s"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "preparing Podman and the stand-in base images"
"$tools/setup"
"$tools/stand-in-images" >/dev/null
export DOCKER_HOST=unix:///run/podman/podman.sock

secret() { node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('base64url'))"; }
free_port() {
  node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); })"
}
api_key=$(secret)
git_sha=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
bridge_port=$(free_port)
ui_port=$(free_port)
cat >"$env_file" <<ENV
BRIDGE_INTERNAL_TOKEN=$(secret)
BRIDGE_BOOTSTRAP_API_KEY=$api_key
CARRIER_CALLBACK_SECRET=$(secret)
S3_ACCESS_KEY_ID=unused
S3_SECRET_ACCESS_KEY=unused-in-the-embedded-override
WORKER_REPLICAS=4
CARRIER_SIM_SPEED=${SMOKE_SIM_SPEED:-10}
BRIDGE_PUBLISH_PORT=$bridge_port
DIALLER_PUBLISH_PORT=$(free_port)
UI_PUBLISH_PORT=$ui_port
VOXFLEET_IMAGE_PREFIX=voxfleet
VOXFLEET_TAG=$tag
GIT_SHA=$git_sha
ENV

# service name, Dockerfile
images=(
  "voxbridge apps/bridge/Dockerfile"
  "voxcore-worker apps/worker/Dockerfile"
  "voxdialler apps/dialler/Dockerfile"
  "carrier-sim apps/carrier-sim/Dockerfile"
  "voxui apps/ui/Dockerfile"
)
# No --pull flag: the docker CLI's builder takes only true or false there, and without it
# Podman uses the local stand-in base images. --force-rm, because Podman otherwise keeps the
# build container of a failed step.
for entry in "${images[@]}"; do
  read -r service dockerfile <<<"$entry"
  build_started=$SECONDS
  log "building voxfleet/$service:$tag from $dockerfile"
  if ! docker build --force-rm -f "$root/$dockerfile" -t "voxfleet/$service:$tag" \
    --build-arg GIT_SHA="$git_sha" "$root" >"$work/build-$service.log" 2>&1; then
    tail -n 40 "$work/build-$service.log"
    log "building voxfleet/$service:$tag failed; the last 40 lines of its output are above"
    exit 1
  fi
  size=$(docker image inspect -f '{{.Size}}' "voxfleet/$service:$tag")
  log "built voxfleet/$service:$tag: $(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1e6 }') MB in $((SECONDS - build_started)) s"
done

log "starting the stack (project $project, voxbridge on 127.0.0.1:$bridge_port)"
up_started_ms=$(date +%s%3N)
compose up -d --no-build

if [[ -n $(compose ps -q mongo minio) ]]; then
  log "mongo or minio has a container, but compose.embedded.yaml should leave them at zero"
  exit 1
fi

log "running the demo campaign"
(cd "$root" && node --conditions=development --import tsx packages/cli/src/bin.ts demo \
  --bridge-url "http://127.0.0.1:$bridge_port" --api-key "$api_key" --timeout-ms 600000)
log "compose up -> demo complete: $(($(date +%s%3N) - up_started_ms)) ms"

worker_ids=$(compose ps -q voxcore-worker)
hostnames=()
for id in $worker_ids; do hostnames+=("$(docker inspect -f '{{.Config.Hostname}}' "$id")"); done
node "$compose_dir/test/check-workers.mjs" "http://127.0.0.1:$bridge_port" "$api_key" "${hostnames[@]}"

# voxui serves the dashboard and passes /v1/ on to voxbridge.
ui=http://127.0.0.1:$ui_port
curl -sf "$ui/" | grep -qi '<!doctype html>' || {
  log "voxui did not serve the dashboard's index.html at $ui/"
  exit 1
}
curl -sf -H "authorization: Bearer $api_key" "$ui/v1/campaigns" | grep -q '"status":"completed"' || {
  log "voxui did not pass GET /v1/campaigns on to voxbridge"
  exit 1
}
log "voxui serves the dashboard and reaches voxbridge"

unhealthy=0
for id in $(compose ps -q); do
  health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
  if [[ $health != healthy ]]; then
    log "$(docker inspect -f '{{.Name}}' "$id") is $health, expected healthy"
    unhealthy=1
  fi
done
((unhealthy == 0))

node "$compose_dir/test/startup-times.mjs" $(compose ps -q)
log "passed"
