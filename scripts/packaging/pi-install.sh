#!/bin/sh
# Run as root ON THE PI by scripts/install, from the staging directory it copied
# there:  sudo sh DIR/pi-install.sh DIR PACKAGE
# DIR holds PACKAGE (swarmlight_<version>_<arch>.deb, built by make deb); it is
# removed at the end. The package installs everything, with dpkg, exactly as
# apt install ./PACKAGE would: this script only checks it first and keeps it for
# a rollback. POSIX sh: the Pi's /bin/sh is dash.
set -eu

dir=$1
deb=$dir/$2
cache=/var/cache/swarmlight
say() { printf 'pi: %s\n' "$*"; }
finish() {
	rm -rf "$dir"
	exit "$1"
}

command -v dpkg >/dev/null || { say "no dpkg here: swarmlight installs on Raspberry Pi OS or another Debian"; finish 1; }
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
	say "$2 is for $arch, but this system is $(dpkg --print-architecture)"
	finish 1
fi

# The new binary must accept the configuration before anything is installed (a
# newer version may reject a key an older one took). Loopback port 0: the
# running tracker holds the real port.
mkdir "$dir/new"
dpkg-deb -x "$deb" "$dir/new"
config=/etc/swarmlight/swarmlight.yaml
[ -e "$config" ] || config=$dir/new/etc/swarmlight/swarmlight.yaml
if ! "$dir/new/usr/bin/swarmlight" check-config --config "$config" \
	--http.listen 127.0.0.1:0 --udp.listen 127.0.0.1:0 >/dev/null; then
	say "swarmlight $version rejects $config (above): nothing installed, nothing restarted"
	finish 1
fi

# The package of the version installed now becomes the previous one, if this
# script installed it (apt and dpkg keep no copy of a local .deb).
previous=$(dpkg-query -W -f '${Status} ${Version}' swarmlight 2>/dev/null | sed -n 's/^install ok installed //p') || true
if [ -n "$previous" ] && [ "$previous" != "$version" ]; then
	if [ -f "$cache/swarmlight.deb" ] && [ "$(dpkg-deb -f "$cache/swarmlight.deb" Version)" = "$previous" ]; then
		mv -f "$cache/swarmlight.deb" "$cache/swarmlight.previous.deb"
		say "kept the package of $previous as $cache/swarmlight.previous.deb"
	else
		rm -f "$cache/swarmlight.deb" "$cache/swarmlight.previous.deb"
		say "no package of the installed $previous is kept here: no rollback to it"
	fi
fi

# confold: the configuration is the admin's. A file there from before (an older
# installer's) is kept, never replaced.
if ! dpkg --force-confdef --force-confold -i "$deb"; then
	say "dpkg could not install $2 (above)"
	finish 1
fi
mkdir -p "$cache"
cp "$deb" "$cache/swarmlight.deb.new"
mv -f "$cache/swarmlight.deb.new" "$cache/swarmlight.deb"
say "installed swarmlight $version; its package is kept as $cache/swarmlight.deb"

if ! ls /dev/i2c-* >/dev/null 2>&1; then
	say "note: no I2C bus, so no display: turn it on with 'sudo raspi-config nonint do_i2c 0' and reboot"
fi
if [ -r /sys/fs/cgroup/cgroup.controllers ] && ! grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
	say "note: MemoryMax= does not hold until the memory cgroup is on: add cgroup_enable=memory to /boot/firmware/cmdline.txt and reboot"
fi

# postinst started the service (first install) or restarted it (upgrade);
# Type=notify, so it is active only once the tracker serves. A unit the admin
# disabled stays stopped, as it should.
if [ -d /run/systemd/system ] && systemctl is-enabled --quiet swarmlight.service; then
	if ! systemctl is-active --quiet swarmlight.service; then
		say "swarmlight.service is not running: see journalctl -u swarmlight -n 50"
		finish 1
	fi
	say "swarmlight.service is running"
fi
finish 0
