# Sourced by the tests that run the installed package (package_test, runbook_test).
#   unpack_package ROOT          dpkg -x the .deb that scripts/package built into ROOT
#   ensure_certkeeper_user       the system user the package's postinst creates
#   run_installed ROOT STATE SCRIPT [ARGS...]
#       runs `bash SCRIPT ROOT STATE ARGS...` as root in a private mount namespace where
#       /etc/certkeeper is the package's and /var/lib/certkeeper is STATE (owned by
#       certkeeper): the installed programs find their config and state as on a real
#       installation, and nothing of this machine's /etc or /var is touched.
ck_src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ck_version="$(sed -n 's/^project(certkeeper VERSION \([0-9.]*\).*/\1/p' "$ck_src/CMakeLists.txt")"
ck_deb="$ck_src/build/certkeeper_${ck_version}_$(dpkg --print-architecture).deb"

ck_fail() { echo "${ck_test_name:-test}: FAIL: $*" >&2; exit 1; }

unpack_package() {
  [ -f "$ck_deb" ] || ck_fail "$ck_deb is missing: run scripts/package"
  dpkg -x "$ck_deb" "$1"
}

ensure_certkeeper_user() {
  [ "$(id -u)" -eq 0 ] || ck_fail "needs root (unshare -m, bind mounts, setpriv)"
  getent passwd certkeeper >/dev/null && return 0
  echo "creating the system user certkeeper (as the package's postinst would)"
  useradd --system --user-group --home-dir /var/lib/certkeeper --no-create-home \
    --shell /usr/sbin/nologin certkeeper
}

run_installed() {
  local root="$1" state="$2" script="$3"
  shift 3
  ensure_certkeeper_user
  install -d -o certkeeper -g certkeeper -m 0750 "$state"
  # One such namespace at a time on this machine: the mount points may have to be made
  # (and removed) on the host, and removing a folder detaches the mounts on it in every
  # namespace, so a second test's cleanup would pull /var/lib/certkeeper from under the first.
  (
    flock 9
    local made=() d rc=0
    for d in /etc/certkeeper /var/lib/certkeeper; do
      [ -d "$d" ] || { mkdir "$d"; made+=("$d"); }
    done
    unshare --mount --propagation private bash -c '
      set -euo pipefail
      mount --bind "$1/etc/certkeeper" /etc/certkeeper
      mount --bind "$2" /var/lib/certkeeper
      cd /
      exec bash "$3" "$1" "$2" "${@:4}"' run_installed "$root" "$state" "$script" "$@" || rc=$?
    for d in "${made[@]}"; do rmdir "$d" 2>/dev/null || true; done
    exit "$rc"
  ) 9>/tmp/certkeeper-installed-namespace.lock
}
