#!/bin/sh
# Run as root ON THE PI by scripts/install, from the staging directory it copied
# there:  sudo sh DIR/pi-install.sh DIR BINARY
# DIR holds BINARY (the swarmlight binary for this Pi), swarmlight.yaml,
# swarmlight.service, 60-swarmlight.rules and modules-load.conf; it is removed
# at the end. POSIX sh: the Pi's /bin/sh is dash.
set -eu

dir=$1
bin=$2
say() { printf 'pi: %s\n' "$*"; }

# The service runs in these groups (SupplementaryGroups=) and does not start
# without them. Raspberry Pi OS has both.
for group in gpio i2c; do
	if ! getent group "$group" >/dev/null; then
		addgroup --quiet --system "$group"
		say "created group $group"
	fi
done

# Keep the binary being replaced, for a one-command rollback.
if [ -e /usr/bin/swarmlight ]; then
	cp -p /usr/bin/swarmlight /usr/bin/swarmlight.previous
	say "kept $(/usr/bin/swarmlight version 2>/dev/null || echo 'the old binary') as /usr/bin/swarmlight.previous"
fi
# Install beside it, then rename over it: atomic, and a running tracker keeps
# its old file until the restart below.
install -m 0755 -o root -g root "$dir/$bin" /usr/bin/swarmlight.new
mv -f /usr/bin/swarmlight.new /usr/bin/swarmlight
say "installed $(/usr/bin/swarmlight version) as /usr/bin/swarmlight"

# The configuration is the user's: install ours only where there is none.
if [ -e /etc/swarmlight/swarmlight.yaml ]; then
	say "kept the existing /etc/swarmlight/swarmlight.yaml"
else
	install -D -m 0644 -o root -g root "$dir/swarmlight.yaml" /etc/swarmlight/swarmlight.yaml
	say "installed /etc/swarmlight/swarmlight.yaml"
fi

# The new binary must accept the configuration before anything is restarted (a
# newer version may reject a key an older one took). Loopback port 0: the
# running tracker holds the real port.
if ! /usr/bin/swarmlight check-config --config /etc/swarmlight/swarmlight.yaml \
	--http.listen 127.0.0.1:0 --udp.listen 127.0.0.1:0 >/dev/null; then
	if [ -e /usr/bin/swarmlight.previous ]; then
		mv -f /usr/bin/swarmlight.previous /usr/bin/swarmlight
		say "the new binary rejects /etc/swarmlight/swarmlight.yaml (above): put the previous binary back, nothing restarted"
	else
		say "the new binary rejects /etc/swarmlight/swarmlight.yaml (above)"
	fi
	rm -rf "$dir"
	exit 1
fi

# The same locations as scripts/flash-image: the unit where a package would put
# it (a later .deb then replaces it instead of being shadowed by /etc), the rest
# in /etc as the admin's own.
install -m 0644 -o root -g root "$dir/swarmlight.service" /lib/systemd/system/swarmlight.service
install -D -m 0644 -o root -g root "$dir/60-swarmlight.rules" /etc/udev/rules.d/60-swarmlight.rules
install -D -m 0644 -o root -g root "$dir/modules-load.conf" /etc/modules-load.d/i2c-dev.conf
say "installed the unit, the udev rule and i2c-dev in modules-load.d"
rm -rf "$dir"

# modules-load.d acts at boot; load i2c-dev and apply the udev rule now, so the
# panel works without a reboot.
modprobe i2c-dev 2>/dev/null || true
udevadm control --reload-rules || true
udevadm trigger --subsystem-match=leds --subsystem-match=gpio --subsystem-match=i2c-dev || true
udevadm settle --timeout=10 || true
if ! ls /dev/i2c-* >/dev/null 2>&1; then
	say "note: no I2C bus, so no display: turn it on with 'sudo raspi-config nonint do_i2c 0' and reboot"
fi

# Type=notify: start and restart return once the tracker serves, or fail.
systemctl daemon-reload
if systemctl is-active --quiet swarmlight.service; then
	systemctl enable --quiet swarmlight.service
	systemctl restart swarmlight.service
	say "restarted swarmlight.service"
else
	systemctl enable --quiet --now swarmlight.service
	say "enabled and started swarmlight.service"
fi
