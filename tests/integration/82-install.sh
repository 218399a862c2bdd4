#!/usr/bin/env bash
# 82-install: `cmake --install --prefix /usr` into a DESTDIR gives the tree a
# Debian system expects, and what it installs is sound:
#   - binaries, unit, sysusers.d/tmpfiles.d snippets, example configuration,
#     plugin directory and ABI header, man pages and documents where they belong;
#   - no failoverd.conf is ever written, and a second install leaves an
#     operator's failoverd.conf alone;
#   - the installed daemon runs and accepts the installed example;
#   - each man page renders without a warning, and the generated settings part
#     of failoverd.conf(5) matches the table of settings;
#   - systemd-analyze verify accepts the installed unit, alone and with the
#     opt-in local-vip.conf drop-in; systemd-sysusers and systemd-tmpfiles
#     apply the snippets to the DESTDIR;
#   - with --prefix /usr/local the unit runs the binaries there and the example
#     configuration is still put in /etc/failoverd, where both read it.
# Exit 0 = pass.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FAILOVERD_BUILD:-$ROOT/build}
D=$(mktemp -d /tmp/failoverd-82-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
DEST=$D/root
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { # message command...
  local msg=$1; shift
  if "$@"; then ok "$msg"; else fail "$msg"; fi
}

[ -x "$BUILD/daemon/failoverd" ] || { echo "FAIL: no failoverd in $BUILD (set FAILOVERD_BUILD)"; exit 1; }

echo "-- cmake --install $BUILD --prefix /usr, DESTDIR=$DEST"
if ! DESTDIR=$DEST cmake --install "$BUILD" --prefix /usr >"$D/install.log" 2>&1; then
  cat "$D/install.log"; echo "FAIL: cmake --install"; exit 1
fi

expect_file() { # path [mode]
  local p=$DEST$1
  if [ ! -f "$p" ]; then fail "$1 is installed"; return; fi
  if [ -n "${2:-}" ] && [ "$(stat -c %a "$p")" != "$2" ]; then
    fail "$1 has mode $2 (it has $(stat -c %a "$p"))"; return
  fi
  ok "$1${2:+ (mode $2)}"
}
expect_file /usr/sbin/failoverd 755
expect_file /usr/bin/failoverctl 755
expect_file /usr/lib/systemd/system/failoverd.service 644
expect_file /usr/lib/sysusers.d/failoverd.conf 644
expect_file /usr/lib/tmpfiles.d/failoverd.conf 644
expect_file /etc/failoverd/failoverd.conf.example 644
expect_file /usr/share/man/man8/failoverd.8 644
expect_file /usr/share/man/man8/failoverctl.8 644
expect_file /usr/share/man/man5/failoverd.conf.5 644
expect_file /usr/include/failoverd/plugin.h 644
expect_file /usr/share/doc/failoverd/README.md
expect_file /usr/share/doc/failoverd/plugins.md
expect_file /usr/share/doc/failoverd/protocol.md
expect_file /usr/share/doc/failoverd/configuration.md
expect_file /usr/share/doc/failoverd/examples/failoverd.conf
expect_file /usr/share/doc/failoverd/examples/local-vip.conf
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
check "the plugin directory /usr/${libdir:-lib}/failoverd/plugins exists" \
  test -d "$DEST/usr/${libdir:-lib}/failoverd/plugins"
check "no failoverd.conf is installed, only the example" test ! -e "$DEST/etc/failoverd/failoverd.conf"
check "the unit starts /usr/sbin/failoverd" \
  grep -qx 'ExecStart=/usr/sbin/failoverd -c /etc/failoverd/failoverd.conf' \
  "$DEST/usr/lib/systemd/system/failoverd.service"
stray=$(cd "$DEST" && find . -type f | grep -Ev '^\./(usr/(s?bin|lib|share|include)|etc/failoverd)/' || true)
check "nothing is installed elsewhere${stray:+: $stray}" test -z "$stray"

echo "-- the installed programs"
check "failoverd --version runs" "$DEST/usr/sbin/failoverd" --version
check "failoverctl --version runs" "$DEST/usr/bin/failoverctl" --version
# The example holds (placeholder) inline passwords: as installed (0644) it is
# refused with the fix; installed the README's way (private) it is valid.
if "$DEST/usr/sbin/failoverd" --check-config "$DEST/etc/failoverd/failoverd.conf.example" \
  >/dev/null 2>"$D/check.err"; then
  fail "the world-readable example with inline passwords is refused"
elif grep -q "readable by others (mode 0644): chmod 600" "$D/check.err"; then
  ok "the world-readable example with inline passwords is refused, with the fix"
else
  cat "$D/check.err"; fail "the world-readable example is refused for its mode"
fi
install -m 0600 "$DEST/etc/failoverd/failoverd.conf.example" "$D/failoverd.conf"
if "$DEST/usr/sbin/failoverd" --check-config "$D/failoverd.conf" \
  >/dev/null 2>"$D/check.err"; then
  ok "the installed example is a valid configuration"
else
  cat "$D/check.err"; fail "the installed example is a valid configuration"
fi

echo "-- reinstalling over an operator's configuration"
echo "# the operator's own" >"$DEST/etc/failoverd/failoverd.conf"
DESTDIR=$DEST cmake --install "$BUILD" --prefix /usr >/dev/null 2>&1
check "a second install leaves failoverd.conf alone" \
  grep -qx "# the operator's own" "$DEST/etc/failoverd/failoverd.conf"
rm -f "$DEST/etc/failoverd/failoverd.conf"

echo "-- man pages"
for page in man8/failoverd.8 man8/failoverctl.8 man5/failoverd.conf.5; do
  f=$DEST/usr/share/man/$page
  warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
  check "man -l $page renders without warnings${warn:+: $warn}" test -z "$warn"
  warn=$(groff -man -ww -z "$f" 2>&1)
  check "groff -ww finds nothing in $page${warn:+: $warn}" test -z "$warn"
  lines=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$f" 2>/dev/null | wc -l)
  check "$page renders to $lines lines" test "$lines" -gt 40
done
check "the settings in failoverd.conf(5) are those of failoverd --print-config-doc" \
  "$ROOT/scripts/man-settings" "$BUILD/daemon/failoverd" --check "$DEST/usr/share/man/man5/failoverd.conf.5"

echo "-- systemd"
if ! command -v systemd-analyze >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  echo "installing systemd's tools (the systemd package)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null 2>&1
fi
if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart and ExecReload to exist and the Documentation=
  # pages to be found: point the copy at the installed binaries and man at the
  # installed pages.
  mkdir -p "$D/units/failoverd.service.d"
  sed -e "s|^ExecStart=/usr/sbin/failoverd|ExecStart=$DEST/usr/sbin/failoverd|" \
      -e "s|^ExecReload=/usr/bin/failoverctl|ExecReload=$DEST/usr/bin/failoverctl|" \
    "$DEST/usr/lib/systemd/system/failoverd.service" >"$D/units/failoverd.service"
  out=$(cd "$D/units" && MANPATH=$DEST/usr/share/man systemd-analyze verify ./failoverd.service 2>&1)
  check "systemd-analyze verify failoverd.service${out:+: $out}" test -z "$out"
  cp "$DEST/usr/share/doc/failoverd/examples/local-vip.conf" "$D/units/failoverd.service.d/"
  out=$(cd "$D/units" && MANPATH=$DEST/usr/share/man systemd-analyze verify ./failoverd.service 2>&1)
  check "systemd-analyze verify with the local-vip.conf drop-in${out:+: $out}" test -z "$out"
  # The drop-in takes effect: CAP_NET_ADMIN is granted with it, not without.
  netadmin() { (cd "$D/units" && systemd-analyze security --offline=yes ./failoverd.service 2>/dev/null |
    grep 'CapabilityBoundingSet=~CAP_NET_ADMIN' | cut -c1-3); }
  check "with the drop-in the service may hold CAP_NET_ADMIN" test "$(netadmin)" = "✗"
  rm -r "$D/units/failoverd.service.d"
  check "without it, it may not" test "$(netadmin)" = "✓"
  exposure=$(cd "$D/units" && systemd-analyze security --offline=yes ./failoverd.service 2>/dev/null |
    sed -n 's/.*Overall exposure level for failoverd.service: \([0-9.]*\).*/\1/p')
  echo "   systemd-analyze security: exposure $exposure"
  check "systemd-analyze security rates the unit OK or better (exposure $exposure < 3.0)" \
    awk -v e="$exposure" 'BEGIN { exit !(e != "" && e < 3.0) }'
else
  echo "SKIP: systemd-analyze is not available and could not be installed: the unit is not verified"
fi
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
  mkdir -p "$DEST/etc"
  touch "$DEST/etc/passwd" "$DEST/etc/group" "$DEST/etc/shadow" "$DEST/etc/gshadow"
  check "systemd-sysusers creates the failoverd user in the DESTDIR" \
    systemd-sysusers --root="$DEST" >"$D/sysusers.log" 2>&1
  check "with home /var/lib/failoverd" grep -q '^failoverd:x:[0-9]*:[0-9]*:.*:/var/lib/failoverd:' "$DEST/etc/passwd"
  check "systemd-tmpfiles creates its state directory" \
    systemd-tmpfiles --root="$DEST" --create failoverd.conf
  uid=$(sed -n 's/^failoverd:x:\([0-9]*\):.*/\1/p' "$DEST/etc/passwd")
  check "/var/lib/failoverd is 0750, owned by failoverd" \
    test "$(stat -c '%a %u' "$DEST/var/lib/failoverd" 2>/dev/null)" = "750 $uid"
else
  echo "SKIP: systemd-sysusers/systemd-tmpfiles are not available"
fi

# Another prefix: the binaries, unit and snippets follow it; the example
# configuration still goes where the daemon and the unit read it.
LOCAL=$D/local
echo "-- cmake --install $BUILD --prefix /usr/local, DESTDIR=$LOCAL"
if DESTDIR=$LOCAL cmake --install "$BUILD" --prefix /usr/local >"$D/install-local.log" 2>&1; then
  check "--prefix /usr/local: the example configuration is in /etc/failoverd" \
    test -f "$LOCAL/etc/failoverd/failoverd.conf.example"
  check "--prefix /usr/local: nothing in /usr/local/etc" test ! -e "$LOCAL/usr/local/etc"
  unit=$LOCAL/usr/local/lib/systemd/system/failoverd.service
  check "--prefix /usr/local: ExecStart= runs the installed daemon on /etc/failoverd" \
    grep -qx 'ExecStart=/usr/local/sbin/failoverd -c /etc/failoverd/failoverd.conf' "$unit"
  check "--prefix /usr/local: ExecReload= runs the installed failoverctl" \
    grep -qx 'ExecReload=/usr/local/bin/failoverctl reload' "$unit"
else
  cat "$D/install-local.log"; fail "cmake --install --prefix /usr/local"
fi

echo "82-install: $([ $fails -eq 0 ] && echo passed || echo "FAILED ($fails)")"
[ $fails -eq 0 ]
