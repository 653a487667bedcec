#!/bin/sh
# PID 1 of the BLE real-tier guest (transports/ble/vm/run.sh): the kernel's Bluetooth stack,
# two virtual LE controllers in one emulated air (btvirt), the real bluetoothd, and two
# `thicket run --ble --no-tor` processes, Alice on hci0 and Bob on hci1, who added each
# other's links before boot. They meet over BLE only (there is no network), chat both ways,
# and every step is printed as a `VM:` line for the host to check. Powers off at the end.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmp /run; mount -t tmpfs tmp /tmp
mountpoint -q /dev || mount -t devtmpfs dev /dev
T=/opt/thicket
now() { cut -d' ' -f1 /proc/uptime; }
say() { echo "VM: $* at $(now)s"; }
finish() {
    say "$1"
    for n in alice bob; do echo "--- $n"; uniq -c /tmp/$n.log | tail -40; done
    echo "--- bluetoothd"; tail -20 /tmp/bluetoothd.log
    echo "--- btvirt"; tail -5 /tmp/btvirt.log
    echo "--- adapters"; btmgmt info
    for i in 0 1; do
        dbus-send --system --print-reply --dest=org.bluez /org/bluez/hci$i \
            org.freedesktop.DBus.Properties.GetAll string:org.bluez.Adapter1 | tr -s ' \n' ' '
        echo
    done
    sync; echo o > /proc/sysrq-trigger; sleep 10
}
say "booted"
modprobe hci_vhci || finish "FAIL no hci_vhci"
mkdir -p /run/dbus && dbus-daemon --system --fork || finish "FAIL no dbus"
controllers() { btmgmt info 2>/dev/null | grep -c '^hci[01]:'; }
# btvirt makes the two controllers through /dev/vhci; on a slow guest one may not appear,
# so wait, and start btvirt again once if it is short of one.
for try in 1 2; do
    btvirt -l2 > /tmp/btvirt.log 2>&1 &
    sleep 1
    [ "$try" = 1 ] && { /usr/libexec/bluetooth/bluetoothd -n > /tmp/bluetoothd.log 2>&1 & }
    for i in $(seq 300); do
        [ "$(controllers)" = 2 ] && break
        sleep 0.2
    done
    [ "$(controllers)" = 2 ] && break
    say "btvirt made $(controllers) controllers; again"
    pkill btvirt; sleep 2
done
[ "$(controllers)" = 2 ] || finish "FAIL btvirt made $(controllers) controllers of 2"
btmgmt --index 0 power on >/dev/null; btmgmt --index 1 power on >/dev/null
say "controllers up"

start() { # name adapter fd
    mkfifo /tmp/$1.in
    # The fifo stays open for writing so that `thicket run` never sees the end of its input.
    eval "exec $3<>/tmp/$1.in"
    THICKET_LOG=${THICKET_LOG:-warn} $T/thicket --data-dir $T/$1 --password-file $T/$1.password \
        run --ble --ble-adapter $2 --no-tor < /tmp/$1.in > /tmp/$1.log 2>&1 &
}
start alice hci0 8
start bob hci1 9
say "started"
# wait FILE TEXT SECONDS (each several times what it takes on a loaded machine, so that a
# stall fails in minutes, not in CI's last one)
wait_for() {
    i=0
    while ! grep -qF "$2" "$1"; do
        i=$((i + 1)); [ $i -gt $(($3 * 5)) ] && finish "FAIL waiting for '$2' in $1"
        sleep 0.2
    done
    say "$(basename "$1" .log): $2"
}
# Both roles open, with private addresses: nothing limits them.
wait_for /tmp/alice.log "ble: up, reachable" 60
wait_for /tmp/bob.log "ble: up, reachable" 60
wait_for /tmp/alice.log "Added bob." 180
wait_for /tmp/bob.log "Added alice." 60
echo "send bob hello from alice over bluetooth" > /tmp/alice.in
wait_for /tmp/bob.log "New message from alice: hello from alice over bluetooth" 120
wait_for /tmp/alice.log "A message to bob was delivered." 60
echo "send alice and back from bob" > /tmp/bob.in
wait_for /tmp/alice.log "New message from bob: and back from bob" 120
wait_for /tmp/bob.log "A message to alice was delivered." 60
say "CHAT PASS"
echo quit > /tmp/alice.in; echo quit > /tmp/bob.in
sleep 3; pkill thicket; sleep 1
# Their connection outlives them in bluetoothd, and a connected device's advertisements
# are not reported: power the controllers off and on so that the bench starts afresh.
for i in 0 1; do btmgmt --index $i power off >/dev/null; btmgmt --index $i power on >/dev/null; done
# Goodput of the pipe against the raw write rate, on the same two controllers.
timeout 240 $T/ble_bench hci0 hci1 20000 2>&1 | sed 's/^/VM: bench: /'
finish "PASS"
