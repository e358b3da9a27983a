#!/bin/sh
# Entry point of the voxui image. Writes the runtime settings that nginx.conf includes (the
# container's DNS server and the voxbridge URL from BRIDGE_URL), then replaces this shell
# with nginx, so signals reach nginx directly.
set -eu

# nginx resolves the voxbridge name per request through this server, so the container starts
# even while voxbridge is down or has no DNS entry yet.
resolver=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
case $resolver in
  *:*) resolver="[$resolver]" ;;
esac

cat >/tmp/nginx-runtime.conf <<CONF
resolver ${resolver:-127.0.0.11} valid=10s;
map \$host \$bridge_upstream {
  default ${BRIDGE_URL:-http://voxbridge:7700};
}
CONF

exec nginx -g 'daemon off;'
