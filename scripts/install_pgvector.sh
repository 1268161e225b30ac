#!/usr/bin/env bash
# shellcheck disable=SC2015  # `A && B || die` is meant: die unless both hold
# Install the pgvector extension into Debian 12's PostgreSQL 15.
#
# Debian 12 ships no pgvector package for PostgreSQL 15 that has HNSW, but Debian 13 (trixie)'s
# `pgvector` *source* package builds in seconds against postgresql-server-dev-15. We fetch only
# that source package, through a private apt configuration (own sources list, lists dir and
# cache in a temp dir): the system's apt never sees trixie, so no binary package can come from
# it and a later `apt-get upgrade` stays on bookworm. Nothing to pin, nothing to clean up.
#
# Usage: scripts/install_pgvector.sh          (as root; idempotent; ~0.1 s when already installed)
# Env:   PG_MAJOR=15                          PostgreSQL major version to build for
#        PGVECTOR_VERSION=<debian version>    e.g. 0.8.0-1; default: whatever trixie has now
#        PGVECTOR_MIRROR=http://deb.debian.org/debian
#        PGVECTOR_FORCE=1                     rebuild even if already installed
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
PG_CONFIG="${PG_BIN}/pg_config"
MIRROR="${PGVECTOR_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { echo "install_pgvector: $*" >&2; }
die() { echo "install_pgvector: ERROR: $*" >&2; exit 1; }

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Both files must be there: the control file alone (e.g. a half-finished install) is not enough.
extension_present() {
    [ -x "$PG_CONFIG" ] || return 1
    [ -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ] &&
        [ -f "$("$PG_CONFIG" --pkglibdir)/vector.so" ]
}

started=$(date +%s.%N)

if [ "${PGVECTOR_FORCE:-0}" != 1 ] && is_installed "postgresql-${PG_MAJOR}" && extension_present; then
    log "pgvector already installed for PostgreSQL ${PG_MAJOR} ($("$PG_CONFIG" --pkglibdir)/vector.so); nothing to do"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (apt-get install, make install into $PG_BIN/..)"
export DEBIAN_FRONTEND=noninteractive

# Build tools and the server itself. postgresql-server-dev-N brings pgxs (and pulls clang/llvm
# as hard dependencies); dpkg-dev provides dpkg-source, which `apt-get source` needs to unpack.
missing=()
for pkg in "postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}" dpkg-dev make gcc; do
    is_installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq || die "apt-get update failed (is the Debian mirror reachable?)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
        die "apt-get install ${missing[*]} failed"
fi
[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found after installing postgresql-${PG_MAJOR}"
[ -f "$("$PG_CONFIG" --pgxs)" ] || die "pgxs not found ($("$PG_CONFIG" --pgxs)); is postgresql-server-dev-${PG_MAJOR} installed?"
[ -f "$KEYRING" ] || die "$KEYRING missing (package debian-archive-keyring); needed to verify trixie's Sources"

work=$(mktemp -d /tmp/pgvector-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources.list.d" "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
# apt downloads as the unprivileged _apt user, which must be able to enter the work dir and
# write where `apt-get source` puts the files (else it warns and downloads as root).
chmod 755 "$work"
if id _apt >/dev/null 2>&1; then chown _apt "$work/src"; fi
echo "deb-src [signed-by=${KEYRING}] ${MIRROR} trixie main" > "$work/sources.list"

# Private apt state: only trixie's deb-src; the system's sources, lists and caches are untouched.
apt_private=(
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=$work/sources.list.d"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    -o "APT::Get::List-Cleanup=0"
)

log "fetching trixie's Sources index (deb-src only, private apt state)"
apt-get "${apt_private[@]}" update -qq >&2 || die "apt-get update for trixie deb-src failed ($MIRROR)"

spec=pgvector
[ -n "${PGVECTOR_VERSION:-}" ] && spec="pgvector=${PGVECTOR_VERSION}"
log "apt-get source $spec"
(cd "$work/src" && apt-get "${apt_private[@]}" source -qq "$spec" >&2) ||
    die "apt-get source $spec failed (does trixie still carry that version?)"

srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n1)
[ -n "$srcdir" ] && [ -f "$srcdir/Makefile" ] || die "unpacked pgvector source not found in $work/src"
log "building $(basename "$srcdir") for PostgreSQL ${PG_MAJOR}"

# OPTFLAGS="" drops upstream's -march=native so the .so runs on any x86-64 CI machine.
# with_llvm=no skips the JIT bitcode: not needed, and it keeps the build to plain gcc.
make_args=(PG_CONFIG="$PG_CONFIG" OPTFLAGS="" with_llvm=no)
make -C "$srcdir" -s -j"$(nproc)" "${make_args[@]}" >&2 || die "make failed in $srcdir"
make -C "$srcdir" -s "${make_args[@]}" install >&2 || die "make install failed in $srcdir"

extension_present || die "make install finished but vector.control / vector.so are not where pg_config says"
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
log "installed pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$("$PG_CONFIG" --sharedir)/extension/vector.control") into PostgreSQL ${PG_MAJOR} in ${elapsed}s"
