# Sourced by the benchmarks that measure against nginx (the reference server): one
# nginx worker on 127.0.0.1 with certkeeper's own TLS certificate and key, the same
# TLS versions, asking for a client certificate as certkeeper does
# (ssl_verify_client optional_no_ca), answering the check-in path with a fixed 200.
# Needs: WORK (a private folder), PIDS (an array the caller's cleanup kills).

ensure_nginx() {
  command -v nginx >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nginx >/dev/null
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_nginx CERT KEY: sets NGINX_PORT, and NGINX_PID (the worker, once it serves).
# Not in a $(...) subshell: PIDS must reach the caller's cleanup.
start_nginx() {
  ensure_nginx
  local port
  port=$(free_port)
  NGINX_PORT=$port
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $1;
    ssl_certificate_key $2;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_verify_client optional_no_ca;
    location = /v1/checkin { default_type application/json; return 200 '{"current_fingerprint":"x","rotations":[],"messages":[]}'; }
  }
}
CONF
  nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx/stderr" 2>&1 &
  PIDS+=($!)
  local master=$!
  for _ in $(seq 50); do
    NGINX_PID=$(pgrep -P "$master" | head -1 || true)
    if [ -n "$NGINX_PID" ] && python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "nginx did not start on 127.0.0.1:$port: $(tail -3 "$WORK/nginx/stderr" "$WORK/nginx/error.log" 2>/dev/null)" >&2
  return 1
}
